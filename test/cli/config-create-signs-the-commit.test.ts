import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { createSshSigner, type Signer } from '../../devenv/signers.ts';
import { git } from '../../devenv/git-repo.ts';
import { decryptEnv, exampleWorkTree, OPERATOR_RECIPIENT, runConfig } from '../provision/appliance-repo.ts';

/** Makes the signer the repository's signing key (repo-local git config, as a user would). */
async function useSigner(t: TestContext, repo: string): Promise<Signer> {
  const signer = await createSshSigner('ed25519', 'operator@example.test');
  t.after(() => signer.dispose());
  for (let i = 1; i < signer.gitConfig.length; i += 2) {
    const [key, ...value] = (signer.gitConfig[i] ?? '').split('=');
    await git(repo, ['config', key ?? '', value.join('=')]);
  }
  return signer;
}

/** `git verify-commit HEAD` against an allowed-signers file holding only this signer. */
async function verifyHead(repo: string, dir: string, signer: Signer): Promise<void> {
  const allowed = join(dir, 'allowed_signers');
  await writeFile(allowed, `* ${signer.publicKey}\n`);
  await git(repo, ['-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'verify-commit', 'HEAD']);
}

test('config create --sign signs the commit with the SSH key git is configured with', async (t) => {
  const { dir, repo, out } = await exampleWorkTree(t);
  const signer = await useSigner(t, repo);
  const res = await runConfig([
    'create', '--repo', repo, '--name', 'ecs-test', '--domain', 'ecs.example.test', '--app', 'apps/ecs/app.yml',
    '-r', OPERATOR_RECIPIENT, '--out', out, '--sign',
    '--secret', 'SECRET_KEY', 'REGISTRATION_SECRET', '--first-user-email', 'office@example.test',
  ]); // prettier-ignore
  assert.equal(res.code, 0, res.err);
  assert.match(res.out, /committed [0-9a-f]{12} "Add appliance ecs-test" \(signed\)/);
  assert.match(await git(repo, ['cat-file', 'commit', 'HEAD']), /^gpgsig -----BEGIN SSH SIGNATURE-----/m);
  await verifyHead(repo, dir, signer);

  // The ECS app's vault keys are mounted as .asc files: they are OpenPGP keys, the rest tokens.
  const env = await decryptEnv(repo, 'ecs-test', join(out, 'age.key'));
  const secrets = (env['app'] as { secrets: Record<string, string> }).secrets;
  assert.deepEqual(Object.keys(secrets).sort(), [
    'DATABASE_PASSWORD',
    'ECS_VAULT_ENCRYPT',
    'ECS_VAULT_SIGN',
    'REGISTRATION_SECRET',
    'SECRET_KEY',
  ]);
  for (const name of ['ECS_VAULT_ENCRYPT', 'ECS_VAULT_SIGN']) {
    const key = await openpgp.readPrivateKey({ armoredKey: secrets[name] ?? '' });
    assert.ok(key.isDecrypted(), `${name} has no passphrase`);
  }
  for (const name of ['DATABASE_PASSWORD', 'SECRET_KEY', 'REGISTRATION_SECRET'])
    assert.match(secrets[name] ?? '', /^[A-Za-z0-9_-]{43}$/, name);
  assert.notEqual(secrets['SECRET_KEY'], secrets['REGISTRATION_SECRET']);
  const firstUser = env['first_user'] as { email: string; transport_password: string };
  assert.equal(firstUser.email, 'office@example.test');
  assert.ok(firstUser.transport_password.length >= 32);
});

test('config create signs without --sign when commit.gpgsign is configured, and not otherwise', async (t) => {
  const { dir, repo, out } = await exampleWorkTree(t);
  const signer = await useSigner(t, repo);
  await git(repo, ['config', 'commit.gpgsign', 'true']);
  const res = await runConfig([
    'create',
    '--repo',
    repo,
    '--name',
    'auto',
    '--domain',
    'auto.example.test',
    '--out',
    out,
    '--app',
    'demo',
  ]);
  assert.equal(res.code, 0, res.err);
  assert.match(res.out, /\(signed\)/);
  await verifyHead(repo, dir, signer);

  await git(repo, ['config', 'commit.gpgsign', 'false']);
  const out2 = join(dir, 'out2');
  const args = ['create', '--repo', repo, '--name', 'plain', '--domain', 'plain.example.test', '--out', out2];
  const plain = await runConfig([...args, '--app', 'demo']);
  assert.equal(plain.code, 0, plain.err);
  assert.doesNotMatch(plain.out, /\(signed\)/);
  assert.doesNotMatch(await git(repo, ['cat-file', 'commit', 'HEAD']), /^gpgsig/m);
  // Without --recipient and without a catch-all rule, only the appliance can decrypt: say so.
  assert.match(plain.err, /encrypted for the appliance alone/);
  assert.doesNotMatch(plain.out, /AGE-SECRET-KEY/);

  // --force replaces it (new keys); --print-identity is the one way to see the identity.
  const again = await runConfig([...args, '--app', 'demo', '--force', '--print-identity']);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /"Replace appliance plain"/);
  const identity = (await readFile(join(out2, 'age.key'), 'utf8')).split('\n').find((l) => l.startsWith('AGE-'));
  assert.ok(identity !== undefined && again.out.endsWith(`\n${identity}\n`));
  assert.equal((await decryptEnv(repo, 'plain', join(out2, 'age.key')))['domain'], 'plain.example.test');
});
