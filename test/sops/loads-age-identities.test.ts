import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient, loadIdentities, resolveIdentityFile } from '../../agent/sops/index.ts';
import { isAgentError, type ErrorCode } from '../../agent/core/errors.ts';
import { identitiesOf, PQ_KEY, ROPS_KEY } from './fixtures.ts';

const dir = await mkdtemp(join(tmpdir(), 'sops-identities-'));
test.after(() => rm(dir, { recursive: true, force: true }));

async function keyFile(name: string, text: string, mode = 0o600): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}

test('loads X25519 and post-quantum identities, skipping comments and blank lines', async () => {
  const x = identitiesOf(ROPS_KEY)[0]!;
  const pq = identitiesOf(PQ_KEY)[0]!;
  assert.match(pq, /^AGE-SECRET-KEY-PQ-1/);
  const path = await keyFile('keys.txt', `# created: today\n# public key: age1…\n${x}\n\n  ${pq}  \r\n`);
  const { identities, warnings } = await loadIdentities(path);
  assert.deepEqual(identities, [x, pq]);
  assert.deepEqual(warnings, []);
  assert.equal(await identityToRecipient(x), 'age1se5ghfycr4n8kcwc3qwf234ymvmr2lex2a99wh8gpfx97glwt9hqch4569');
  assert.match(await identityToRecipient(pq), /^age1pq1/);
});

test('warns when the identity file is readable by group or others', async () => {
  const { identity } = await generateIdentity();
  const { warnings } = await loadIdentities(await keyFile('open.txt', `${identity}\n`, 0o644));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!.message, /mode 644/);
  assert.ok(!warnings[0]!.message.includes(identity));
});

test('errors name the file and line but never echo key material', async () => {
  const { identity } = await generateIdentity();
  const broken = `${identity.slice(0, -3)}QQQ`;
  const cases: [string, ErrorCode, string][] = [
    [join(dir, 'absent.txt'), 'AgeIdentityMissing', 'not found'],
    [await keyFile('bad.txt', `# ok\n${broken}\n`), 'AgeIdentityInvalid', 'line 2'],
    [await keyFile('plugin.txt', 'AGE-PLUGIN-YUBIKEY-1QQQQ\n'), 'AgeIdentityInvalid', 'plugin'],
    [await keyFile('empty.txt', '# nothing\n'), 'AgeIdentityInvalid', 'no age identity'],
    [await keyFile('ssh.txt', '-----BEGIN OPENSSH PRIVATE KEY-----\n'), 'AgeIdentityInvalid', 'line 1'],
  ];
  for (const [path, code, text] of cases) {
    await assert.rejects(loadIdentities(path), (err) => {
      assert.ok(isAgentError(err, code), String(err));
      assert.ok(err.terminal);
      assert.ok(err.message.startsWith(`${path}: `));
      assert.ok(err.message.includes(text), err.message);
      assert.ok(!err.message.includes(broken.slice(20)) && !JSON.stringify(err.data).includes(broken.slice(20)));
      return true;
    });
  }
  await assert.rejects(
    identityToRecipient(broken),
    (err) => isAgentError(err, 'AgeIdentityInvalid') && !err.message.includes(broken),
  );
});

test('resolves the identity file from --identity, then APPLIANCE_AGE_IDENTITY_FILE, then SOPS_AGE_KEY_FILE', () => {
  const env = { APPLIANCE_AGE_IDENTITY_FILE: '/a', SOPS_AGE_KEY_FILE: '/s' };
  assert.equal(resolveIdentityFile('/x', env), '/x');
  assert.equal(resolveIdentityFile(undefined, env), '/a');
  assert.equal(resolveIdentityFile(undefined, { SOPS_AGE_KEY_FILE: '/s' }), '/s');
  assert.equal(resolveIdentityFile(undefined, { APPLIANCE_AGE_IDENTITY_FILE: '', SOPS_AGE_KEY_FILE: '/s' }), '/s');
  assert.equal(resolveIdentityFile(undefined, {}), undefined);
});

test('generates identities whose recipients match', async () => {
  const x = await generateIdentity();
  assert.match(x.identity, /^AGE-SECRET-KEY-1[0-9A-Z]+$/);
  assert.equal(await identityToRecipient(x.identity), x.recipient);
  const pq = await generateIdentity({ postQuantum: true });
  assert.match(pq.identity, /^AGE-SECRET-KEY-PQ-1/);
  assert.match(pq.recipient, /^age1pq1/);
  assert.notEqual((await generateIdentity()).identity, x.identity);
});
