import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { decryptEnvFromIdentityFile } from '../../agent/config/decrypt-env.ts';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { validateRepo } from '../../agent/config/validate-repo.ts';
import { editEnv } from '../../devenv/edit-env.ts';
import { tempDir } from '../../devenv/git-repo.ts';

const root = join(import.meta.dirname, '..', '..');
const operatorKey = join(root, 'test/fixtures/keys/operator.agekey');

test('env.yml forge validates encrypted (keys only) and decrypted; a bad kind is named', async () => {
  const dir = await tempDir();
  await cp(join(root, 'example-config-repo'), dir, { recursive: true });
  const env = join(dir, 'appliances/demo/env.yml');
  const forge = { kind: 'gitea', api_url: 'https://git.example.org/api/v1', repository: 'acme/fleet', token: 't0ken' };
  await editEnv(env, operatorKey, (doc) => {
    doc.setIn(['forge'], forge);
  });
  const { decrypt } = await decryptEnvFromIdentityFile(operatorKey);
  for (const options of [{}, { decrypt }]) {
    const r = await validateRepo(dirRepoReader(dir), { names: ['demo'], ...options });
    assert.deepEqual(r.errors, [], JSON.stringify(r.errors));
  }
  await editEnv(env, operatorKey, (doc) => {
    doc.setIn(['forge', 'kind'], 'bitbucket');
  });
  const r = await validateRepo(dirRepoReader(dir), { names: ['demo'], decrypt });
  assert.deepEqual(
    r.errors.map((e) => e.path),
    ['/forge/kind'],
  );
});
