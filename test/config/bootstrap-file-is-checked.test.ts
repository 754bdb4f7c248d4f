import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBootstrap } from '../../agent/config/bootstrap.ts';

const FILE = '/etc/appliance/bootstrap.yml';

test('a minimal bootstrap file gets its defaults', () => {
  const r = loadBootstrap(
    'name: demo\nrepo:\n  url: https://git.example.org/fleet.git\nage_identity_file: /etc/appliance/age.key\ntrust: { allow_unsigned: true }\n',
    FILE,
  );
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  assert.deepEqual(r.value, {
    name: 'demo',
    repo: { url: 'https://git.example.org/fleet.git', branch: 'main', allow_insecure_http: false },
    age_identity_file: '/etc/appliance/age.key',
    trust: { signers: [], allow_unsigned: true, allow_rewind: false },
    poll_interval_seconds: 300,
    state_dir: '/var/lib/appliance',
    listen: '127.0.0.1:8700',
  });
});

test('a signer needs a key and a webhook exactly one secret source', () => {
  const r = loadBootstrap(
    [
      'name: demo',
      'repo: { url: https://git.example.org/fleet.git }',
      'age_identity_file: /etc/appliance/age.key',
      'trust:',
      '  signers:',
      '    - name: alice',
      '    - name: bob',
      '      ssh: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBobsKeyBobsKeyBobsKeyBobsKeyBobsKeyBobs00 bob',
      'webhook:',
      '  secret: 0123456789abcdef0123',
      '  secret_file: /etc/appliance/webhook',
      'poll_interval_seconds: 0',
      '',
    ].join('\n'),
    FILE,
  );
  if (r.ok) assert.fail('expected errors');
  assert.deepEqual(r.errors, [{ file: FILE, path: '/poll_interval_seconds', message: 'must be >= 1' }]);
  const r2 = loadBootstrap(
    [
      'name: demo',
      'repo: { url: https://git.example.org/fleet.git }',
      'age_identity_file: /etc/appliance/age.key',
      'trust: { signers: [ { name: alice } ] }',
      'webhook: { secret: 0123456789abcdef0123, secret_file: /etc/appliance/webhook }',
      '',
    ].join('\n'),
    FILE,
  );
  assert.deepEqual(!r2.ok && r2.errors, [
    { file: FILE, path: '/trust/signers/0', message: "needs an 'openpgp' key, an 'ssh' key or both" },
    { file: FILE, path: '/webhook', message: "give exactly one of 'secret' or 'secret_file'" },
  ]);
});

test('a repo given as a local path is refused: the agent fetches over smart HTTP(S)', () => {
  const r = loadBootstrap(
    'name: demo\nrepo: { url: /srv/git/fleet.git }\nage_identity_file: /etc/appliance/age.key\n',
    'b.yml',
  );
  assert.ok(!r.ok);
  assert.deepEqual(r.errors, [{ file: 'b.yml', path: '/repo/url', message: 'must be an http(s) URL' }]);
});

test('trust needs signers or allow_unsigned (not both), and allow_unsigned comes with a warning', () => {
  const doc = (trust: string): string =>
    `name: demo\nrepo: { url: https://git.example.org/f.git }\nage_identity_file: /k\n${trust}\n`;
  const none = loadBootstrap(doc(''), 'b.yml');
  assert.deepEqual(!none.ok && none.errors.map((e) => e.path), ['/trust']);
  const ssh = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyS+xmGuYu7HsFW0s5M2qO89K0sGqjd/qoQSJHO9Y+n ops';
  const both = loadBootstrap(doc(`trust: { allow_unsigned: true, signers: [{ name: ops, ssh: "${ssh}" }] }`), 'b.yml');
  assert.deepEqual(!both.ok && both.errors.map((e) => e.path), ['/trust/allow_unsigned']);
  const signed = loadBootstrap(doc(`trust: { signers: [{ name: ops, ssh: "${ssh}" }] }`), 'b.yml');
  assert.deepEqual(signed.ok && signed.warnings, []);
  const unsigned = loadBootstrap(doc('trust: { allow_unsigned: true }'), 'b.yml');
  assert.deepEqual(unsigned.ok && unsigned.warnings.map((w) => w.path), ['/trust/allow_unsigned']);
});
