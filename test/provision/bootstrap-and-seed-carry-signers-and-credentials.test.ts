import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { isAgentError } from '../../agent/core/errors.ts';
import { parseCredentials } from '../../agent/source/credentials.ts';
import {
  buildBootstrap,
  credentialsContent,
  CREDENTIALS_PATH,
  readTrustedSigners,
} from '../../agent/provision/bootstrap-doc.ts';
import { renderSeedUserData } from '../../agent/provision/seed-user-data.ts';
import { createGpgSigner, createSshSigner } from '../../devenv/signers.ts';
import { ageKeyPair } from './helpers.ts';

const SECRET = 'webhook-secret-0123456789abcdef';

test('trusted signers are read from OpenPGP blocks and SSH lines, named uniquely; private keys are refused', async (t) => {
  const gpg = await createGpgSigner('Release Manager');
  const ssh = await createSshSigner('ed25519', 'ci@example.test');
  const ssh2 = await createSshSigner('ed25519', 'ci@example.test');
  t.after(async () => {
    await gpg.dispose();
    await ssh.dispose();
    await ssh2.dispose();
  });
  const signers = await readTrustedSigners([
    { path: 'keys.asc', text: `${gpg.publicKey}\n# and the CI\n${ssh.publicKey}\n${ssh.publicKey}\n` },
    { path: 'more.pub', text: `${ssh2.publicKey}\n` },
  ]);
  assert.deepEqual(
    signers.map((s) => [s.name, s.openpgp === undefined ? 'ssh' : 'openpgp']),
    [
      ['Release Manager <release.manager@appliance.invalid>', 'openpgp'],
      ['ci@example.test', 'ssh'],
      ['ci@example.test (2)', 'ssh'],
    ],
  );
  const boot = buildBootstrap({
    name: 'shop',
    repoUrl: 'https://git.example.test/fleet.git',
    branch: 'main',
    credentials: true,
    signers,
    webhookSecret: SECRET,
  });
  assert.equal(boot.config.trust.signers.length, 3);
  assert.equal(boot.config.repo.credentials_file, CREDENTIALS_PATH);
  assert.equal(boot.config.webhook?.secret, SECRET);

  for (const text of ['-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n', 'not a key\n'])
    await assert.rejects(readTrustedSigners([{ path: 'bad', text }]), (e: unknown) =>
      isAgentError(e, 'TrustedSignerInvalid'),
    );
});

test('the bootstrap is refused when the agent could not read it', () => {
  const signers = [
    { name: 'ops', ssh: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyS+xmGuYu7HsFW0s5M2qO89K0sGqjd/qoQSJHO9Y+n ops' },
  ];
  const base = { name: 'shop', branch: 'main', credentials: false, signers, webhookSecret: SECRET };
  assert.throws(
    () => buildBootstrap({ ...base, repoUrl: 'ssh://git@example.test/fleet.git' }),
    (e: unknown) => isAgentError(e, 'BootstrapInvalid'),
  );
  assert.throws(
    () => buildBootstrap({ ...base, repoUrl: 'https://x.test/f.git', webhookSecret: 'short' }),
    (e: unknown) => isAgentError(e, 'BootstrapInvalid') && !e.message.includes('short'),
  );
});

test('a credentials file is a bare token or credentials YAML; anything else is refused without echoing it', () => {
  assert.equal(parseCredentials(credentialsContent('tok-123\n', 'f'), 'f').password, 'tok-123');
  const yaml = 'username: deploy\npassword: pw-456';
  assert.equal(credentialsContent(yaml, 'f'), `${yaml}\n`);
  assert.throws(
    () => credentialsContent('user: hunter2-secret\n', 'creds'),
    (e: unknown) => isAgentError(e) && e.message.includes('creds') && !e.message.includes('hunter2'),
  );
});

test('the seed user-data carries extra private files beside the bootstrap and the identity', async () => {
  const { identity } = await ageKeyPair();
  const bootstrap = { name: 'shop', repo: { url: 'https://x.test/f.git', credentials_file: CREDENTIALS_PATH } };
  const text = renderSeedUserData({
    bootstrap,
    ageIdentity: identity,
    hostname: 'shop',
    files: [{ path: CREDENTIALS_PATH, content: 'token: abc\n' }],
  });
  assert.match(text, /^#cloud-config\n# appliance seed:/);
  const doc = parse(text) as { hostname: string; write_files: { path: string; permissions: string; owner: string }[] };
  assert.equal(doc.hostname, 'shop');
  assert.deepEqual(
    doc.write_files.map((f) => [f.path, f.permissions, f.owner]),
    [
      ['/etc/appliance/bootstrap.yml', '0600', 'root:root'],
      ['/etc/appliance/age.key', '0600', 'root:root'],
      [CREDENTIALS_PATH, '0600', 'root:root'],
    ],
  );
  for (const path of ['/etc/appliance/age.key', 'relative/file', '/etc/../x'])
    assert.throws(
      () => renderSeedUserData({ bootstrap, ageIdentity: identity, files: [{ path, content: 'x' }] }),
      (e: unknown) => isAgentError(e, 'UserDataInvalid'),
    );
});
