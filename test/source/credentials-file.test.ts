import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { loadCredentials, parseCredentials, TOKEN_USERNAME } from '../../agent/source/index.ts';
import { tempDir } from '../../devenv/git-repo.ts';
import { captureLogs, sourceFixture } from './fixture.ts';

const SECRET = 'glpat-Zx9Yw8Vu7Ts6Rq5Po4';

test('a credentials file readable by group or others is refused, 0600 and 0400 are accepted', async () => {
  const dir = await tempDir();
  const { log } = captureLogs();
  try {
    const file = join(dir, 'git-credentials.yml');
    await writeFile(file, `token: ${SECRET}\n`);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(file, mode);
      await assert.rejects(loadCredentials(file, { log }), (err: unknown) => {
        assert.ok(isAgentError(err, 'CredentialsFileMode'));
        assert.equal(err.terminal, true);
        assert.ok(!err.message.includes(SECRET));
        return true;
      });
    }
    for (const mode of [0o600, 0o400]) {
      await chmod(file, mode);
      assert.deepEqual(await loadCredentials(file, { log }), { username: TOKEN_USERNAME, password: SECRET });
    }
    await assert.rejects(loadCredentials(join(dir, 'missing.yml'), { log }), (err: unknown) =>
      isAgentError(err, 'CredentialsUnreadable'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('credentials files parse as YAML or JSON and bad ones are refused without echoing values', () => {
  assert.deepEqual(parseCredentials(`username: deploy\npassword: ${SECRET}\n`, 'f'), {
    username: 'deploy',
    password: SECRET,
  });
  assert.deepEqual(parseCredentials(JSON.stringify({ username: 'oauth2', token: SECRET }), 'f'), {
    username: 'oauth2',
    password: SECRET,
  });
  const bad = [
    `password: ${SECRET}\n`,
    `username: x\npassword: ${SECRET}\ntoken: ${SECRET}\n`,
    `tokn: ${SECRET}\n`,
    `token: [${SECRET}]\n`,
    `token: "${SECRET}\n`,
    `- ${SECRET}\n`,
    'username: only\n',
  ];
  for (const text of bad) {
    assert.throws(
      () => parseCredentials(text, '/etc/appliance/git.yml'),
      (err: unknown) => {
        assert.ok(isAgentError(err, 'CredentialsInvalid'), String(err));
        assert.ok(!err.message.includes(SECRET), err.message);
        assert.match(err.message, /\/etc\/appliance\/git\.yml/);
        return true;
      },
    );
  }
});

test('credentials from a loaded file authenticate a sync', async () => {
  const fx = await sourceFixture({ auth: { username: 'deploy', password: SECRET } });
  try {
    const file = join(fx.root, 'creds.json');
    await writeFile(file, JSON.stringify({ username: 'deploy', password: SECRET }), { mode: 0o600 });
    const auth = await loadCredentials(file, { log: fx.logs.log });
    assert.equal((await fx.source({ auth }).sync()).changed, true);
  } finally {
    await fx.close();
  }
});
