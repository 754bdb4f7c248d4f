import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runRender } from '../../agent/cli/render.ts';
import { runValidate } from '../../agent/cli/validate.ts';
import { loadBootstrap } from '../../agent/config/bootstrap.ts';
import { decryptEnvWith } from '../../agent/config/decrypt-env.ts';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { checkSopsConfig, recipientsFromSopsConfig } from '../../agent/config/sops-config.ts';
import { validateRepo } from '../../agent/config/validate-repo.ts';
import { parseCredentials } from '../../agent/source/credentials.ts';
import { run } from '../../agent/lib/exec.ts';
import { createSshSigner } from '../../devenv/signers.ts';
import { git } from '../../devenv/git-repo.ts';
import { captureIo } from './golden.ts';
import {
  decryptEnv,
  exampleWorkTree,
  generatedSecrets,
  OPERATOR_KEY,
  OPERATOR_RECIPIENT,
  ORIGIN,
  runConfig,
} from '../provision/appliance-repo.ts';

const TOKEN = 'glpat-test-token-0123456789abcdef';
const ADMIN_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOfTheShopAdministrator000000000 admin@shop.test';

test('config create writes a private seed, a valid encrypted appliance and one commit, printing no secret', async (t) => {
  const { dir, repo, out } = await exampleWorkTree(t);
  const signer = await createSshSigner('ed25519', 'release@shop.test');
  t.after(() => signer.dispose());
  await mkdir(join(dir, 'in'));
  const inputs = {
    token: join(dir, 'in', 'token'),
    signers: join(dir, 'in', 'signers.pub'),
    sshKeys: join(dir, 'in', 'admins.pub'),
  };
  await writeFile(inputs.token, `${TOKEN}\n`, { mode: 0o600 });
  await writeFile(inputs.signers, `${signer.publicKey}\n`);
  await writeFile(inputs.sshKeys, `# administrators\n${ADMIN_KEY}\n`);

  const res = await runConfig([
    'create',
    '--repo', repo,
    '--name', 'shop',
    '--domain', 'shop.example.test',
    '--app', 'apps/demo/app.yml',
    '--recipient', OPERATOR_RECIPIENT,
    '--out', out,
    '--credentials-file', inputs.token,
    '--trusted-signer-file', inputs.signers,
    '--ssh-key-file', inputs.sshKeys,
    '--acme-email', 'ops@example.test',
    '--setting', 'DEMO_GREETING=Hello shop',
  ]); // prettier-ignore
  assert.equal(res.code, 0, res.err);

  // --out: a 0700 directory with four 0600 files.
  assert.equal((await stat(out)).mode & 0o777, 0o700);
  for (const f of ['bootstrap.yml', 'age.key', 'seed.iso', 'recovery.pdf'])
    assert.equal((await stat(join(out, f))).mode & 0o777, 0o600, f);

  // env.yml opens with the appliance's identity and with the operator's, and validates.
  const mine = await decryptEnv(repo, 'shop', join(out, 'age.key'));
  const theirs = await decryptEnv(repo, 'shop', OPERATOR_KEY);
  assert.deepEqual(mine, theirs);
  assert.equal(mine['domain'], 'shop.example.test');
  const identity = (await readFile(join(out, 'age.key'), 'utf8')).split('\n').filter((l) => l.startsWith('AGE-'));
  const report = await validateRepo(dirRepoReader(repo), { names: ['shop'], decrypt: decryptEnvWith(identity) });
  assert.deepEqual(report.errors, []);
  // `appliance validate` as an operator: the whole fleet, every env.yml decrypted.
  const validate = captureIo();
  await runValidate(repo, { identity: OPERATOR_KEY, json: true }, validate);
  assert.equal(validate.code, 0, validate.out + validate.err);
  assert.match(validate.out, /"name": "shop"/);

  // render, as an operator would, with the generated identity.
  const render = captureIo();
  await runRender({ repo, name: 'shop', identity: join(out, 'age.key') }, render);
  assert.equal(render.code, 0, render.err);
  assert.match(render.out, /appliance shop/);

  // .sops.yaml: comments kept, a rule for the new appliance with both recipients, sops picks it.
  const sops = await readFile(join(repo, '.sops.yaml'), 'utf8');
  assert.match(sops, /^# Who can decrypt which env.yml/);
  const recipients = await recipientsFromSopsConfig(dirRepoReader(repo), 'appliances/shop/env.yml');
  assert.equal(recipients.length, 2);
  assert.equal(recipients[1], OPERATOR_RECIPIENT);
  assert.deepEqual((await checkSopsConfig(dirRepoReader(repo), ['appliances/shop/env.yml'])).warnings, []);

  // One commit with exactly the three files, and nothing left over.
  assert.equal(await git(repo, ['log', '-1', '--format=%s']), 'Add appliance shop');
  const files = (await git(repo, ['show', '--name-only', '--format=', 'HEAD'])).split('\n').sort();
  assert.deepEqual(files, ['.sops.yaml', 'appliances/shop/appliance.yml', 'appliances/shop/env.yml']);
  assert.equal(await git(repo, ['status', '--porcelain']), '');

  // The seed ISO's user-data carries the same, valid bootstrap and the credentials file.
  const iso = join(dir, 'iso');
  await mkdir(iso);
  await run('xorriso', ['-osirrox', 'on', '-indev', join(out, 'seed.iso'), '-extract', '/', iso]);
  const userData = await readFile(join(iso, 'user-data'), 'utf8');
  assert.match(userData, /^#cloud-config\n/);
  const schema = await run('cloud-init', ['schema', '--config-file', join(iso, 'user-data')], { timeoutMs: 60_000 });
  assert.match(schema.stdout + schema.stderr, /Valid (cloud-config|schema)/);
  const seed = parse(userData) as {
    write_files: { path: string; permissions: string; content: string }[];
    ssh_authorized_keys: string[];
  };
  const byPath = new Map(seed.write_files.map((f) => [f.path, f]));
  const boot = byPath.get('/etc/appliance/bootstrap.yml');
  assert.ok(boot !== undefined);
  const loaded = loadBootstrap(boot.content, 'user-data bootstrap');
  assert.ok(loaded.ok, JSON.stringify(loaded));
  assert.equal(loaded.value.name, 'shop');
  assert.equal(loaded.value.repo.url, ORIGIN);
  assert.equal(loaded.value.repo.credentials_file, '/etc/appliance/repo-credentials');
  assert.equal(loaded.value.age_identity_file, '/etc/appliance/age.key');
  assert.deepEqual(loaded.value.trust.signers, [{ name: 'release@shop.test', ssh: signer.publicKey }]);
  assert.deepEqual(parse(boot.content), parse(await readFile(join(out, 'bootstrap.yml'), 'utf8')));
  const creds = byPath.get('/etc/appliance/repo-credentials');
  assert.equal(creds?.permissions, '0600');
  assert.equal(parseCredentials(creds.content, 'repo-credentials').password, TOKEN);
  assert.equal(byPath.get('/etc/appliance/age.key')?.content.includes(identity[0] ?? '?'), true);
  assert.deepEqual(seed.ssh_authorized_keys, [ADMIN_KEY]);
  assert.match(await readFile(join(iso, 'meta-data'), 'utf8'), /^instance-id: iid-shop-\d+$/m);

  // No secret on stdout or stderr; public facts are there.
  const secrets = [...(await generatedSecrets(out, mine)), TOKEN];
  assert.ok(secrets.length >= 6);
  for (const s of secrets) {
    assert.ok(!res.out.includes(s), `stdout shows a secret (${s.slice(0, 6)}…)`);
    assert.ok(!res.err.includes(s), `stderr shows a secret (${s.slice(0, 6)}…)`);
  }
  assert.doesNotMatch(res.out, /AGE-SECRET-KEY|PRIVATE KEY/);
  assert.match(res.out, /default\._domainkey\.shop\.example\.test\.\s+TXT\s+"v=DKIM1; k=rsa; p=/);
  assert.match(res.out, /_dmarc\.shop\.example\.test\.\s+TXT\s+"v=DMARC1; p=quarantine"/);
  assert.match(res.out, /git -C .* push/);
});
