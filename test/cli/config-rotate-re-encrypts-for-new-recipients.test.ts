import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { recipientsFromSopsConfig } from '../../agent/config/sops-config.ts';
import { git } from '../../devenv/git-repo.ts';
import {
  decryptEnv,
  exampleWorkTree,
  OPERATOR_KEY,
  OPERATOR_RECIPIENT,
  OTHER_KEY,
  OTHER_RECIPIENT,
  createShop,
  runConfig,
} from '../provision/appliance-repo.ts';

const domainLine = async (repo: string): Promise<string> =>
  /^domain: .*$/m.exec(await readFile(join(repo, 'appliances/shop/env.yml'), 'utf8'))?.[0] ?? '';

test('config rotate re-encrypts env.yml for the new operators: the old one is locked out, values stay', async (t) => {
  const { repo, out } = await exampleWorkTree(t);
  const created = await createShop(repo, out);
  assert.equal(created.code, 0, created.err);
  const before = await decryptEnv(repo, 'shop', OPERATOR_KEY);
  const applianceRecipient = (await recipientsFromSopsConfig(dirRepoReader(repo), 'appliances/shop/env.yml'))[0];
  const oldDomain = await domainLine(repo);

  const rotate = ['rotate', '--repo', repo, '--name', 'shop'];
  const res = await runConfig([...rotate, '--identity', OPERATOR_KEY, '--recipient', OTHER_RECIPIENT]);
  assert.equal(res.code, 0, res.err);
  assert.match(res.out, new RegExp(`\\+ ${OTHER_RECIPIENT}`));
  assert.match(res.out, new RegExp(`- ${OPERATOR_RECIPIENT}`));
  assert.match(res.err, /removed recipients can still decrypt the earlier env.yml in git history/);

  await assert.rejects(decryptEnv(repo, 'shop', OPERATOR_KEY), (err: unknown) => isAgentError(err, 'SopsNoIdentity'));
  assert.deepEqual(await decryptEnv(repo, 'shop', OTHER_KEY), before);
  assert.deepEqual(await decryptEnv(repo, 'shop', join(out, 'age.key')), before, 'the appliance keeps its access');
  assert.notEqual(await domainLine(repo), oldDomain, 'a new data key re-encrypts every value');

  assert.deepEqual(await recipientsFromSopsConfig(dirRepoReader(repo), 'appliances/shop/env.yml'), [
    applianceRecipient,
    OTHER_RECIPIENT,
  ]);
  assert.equal(await git(repo, ['log', '-1', '--format=%s']), 'Rotate shop: recipients');
  const files = (await git(repo, ['show', '--name-only', '--format=', 'HEAD'])).split('\n').sort();
  assert.deepEqual(files, ['.sops.yaml', 'appliances/shop/env.yml']);
  assert.equal(await git(repo, ['status', '--porcelain']), '');

  // The appliance's own key goes only when asked for.
  const drop = await runConfig([...rotate, '--identity', OTHER_KEY, '--drop-appliance-recipient', '--no-commit']);
  assert.equal(drop.code, 0, drop.err);
  await assert.rejects(decryptEnv(repo, 'shop', join(out, 'age.key')));
  assert.deepEqual(await decryptEnv(repo, 'shop', OTHER_KEY), before);
  assert.match(await readFile(join(repo, '.sops.yaml'), 'utf8'), /appliance shop: its own key is not a recipient/);

  // Now .sops.yaml no longer names the appliance's key: a new operator set needs it given.
  const again = [...rotate, '--identity', OTHER_KEY, '-r', OPERATOR_RECIPIENT, '--no-commit'];
  const unknown = await runConfig(again);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /pass --appliance-recipient/);
  const back = await runConfig([...again, '--appliance-recipient', applianceRecipient ?? '']);
  assert.equal(back.code, 0, back.err);
  assert.deepEqual(await decryptEnv(repo, 'shop', join(out, 'age.key')), before);
  assert.deepEqual(await decryptEnv(repo, 'shop', OPERATOR_KEY), before);
  assert.deepEqual(await recipientsFromSopsConfig(dirRepoReader(repo), 'appliances/shop/env.yml'), [
    applianceRecipient,
    OPERATOR_RECIPIENT,
  ]);
});
