import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, stringify } from 'yaml';
import { decryptEnvWith } from '../../agent/config/decrypt-env.ts';
import { validateRepo } from '../../agent/config/validate-repo.ts';
import { encryptSops, generateIdentity } from '../../agent/sops/index.ts';
import { fixtureRepo, memoryRepo } from './helpers.ts';

const ENV = 'appliances/shop-prod/env.yml';

/** The basic fixture with both env.yml files really SOPS-encrypted for a fresh key. */
async function encryptedFixture(): Promise<{ files: Map<string, string>; identity: string }> {
  const { identity, recipient } = await generateIdentity();
  const files = await fixtureRepo('basic');
  for (const [rel, text] of files) {
    if (rel.endsWith('/env.yml')) files.set(rel, await encryptSops(text, { file: rel, recipients: [recipient] }));
  }
  return { files, identity };
}

test('an encrypted repository passes the keyless check and the full check with the key', async () => {
  const { files, identity } = await encryptedFixture();
  const keyless = await validateRepo(memoryRepo(files));
  assert.deepEqual(keyless.errors, []);
  assert.deepEqual(
    keyless.appliances.map((a) => a.decrypted),
    [false, false],
  );
  const full = await validateRepo(memoryRepo(files), { decrypt: decryptEnvWith([identity]) });
  assert.deepEqual(full.errors, []);
  assert.ok(full.appliances.every((a) => a.decrypted));
});

test('a plaintext env.yml is refused when no key is given', async () => {
  const report = await validateRepo(memoryRepo(await fixtureRepo('basic')), { names: ['shop-prod'] });
  assert.deepEqual(report.errors, [
    { file: ENV, path: '', message: "not SOPS-encrypted: there is no 'sops' metadata block" },
  ]);
});

test('a plaintext value pasted into an encrypted file is found without the key', async () => {
  const { files } = await encryptedFixture();
  const doc = parse(files.get(ENV) ?? '') as Record<string, Record<string, Record<string, string>>>;
  const secrets = doc['app']?.['secrets'];
  assert.ok(secrets);
  secrets['NEW_TOKEN'] = 'pasted-in-clear';
  files.set(ENV, stringify(doc));
  const report = await validateRepo(memoryRepo(files), { names: ['shop-prod'] });
  assert.deepEqual(report.errors, [
    {
      file: ENV,
      path: '/app/secrets/NEW_TOKEN',
      message: 'value is not encrypted (plaintext in a SOPS file; re-encrypt the file)',
    },
  ]);
});

test('keys of an encrypted file are checked against the schema without the key', async () => {
  const { files } = await encryptedFixture();
  const doc = parse(files.get(ENV) ?? '') as Record<string, unknown>;
  doc['domian'] = doc['domain'];
  delete doc['domain'];
  files.set(ENV, stringify(doc));
  const report = await validateRepo(memoryRepo(files), { names: ['shop-prod'] });
  assert.deepEqual(report.errors, [
    { file: ENV, path: '', message: "missing required key 'domain'" },
    { file: ENV, path: '/domian', message: "unknown key 'domian' (did you mean 'domain'?)" },
  ]);
});

test('references of the app are checked against the keys of an encrypted env.yml', async () => {
  const { files } = await encryptedFixture();
  const doc = parse(files.get(ENV) ?? '') as { app: { secrets: Record<string, unknown> } };
  delete doc.app.secrets['SIGNING_KEY'];
  files.set(ENV, stringify(doc));
  const report = await validateRepo(memoryRepo(files), { names: ['shop-prod'] });
  assert.deepEqual(report.errors, [
    {
      file: 'apps/shop/app.yml',
      path: '/services/web/secret_files/0/from',
      message: `reference 'secrets.SIGNING_KEY' is not set in ${ENV}`,
    },
  ]);
});

test('a file that fails its MAC is reported as undecryptable, not thrown', async () => {
  const { files, identity } = await encryptedFixture();
  const text = files.get(ENV) ?? '';
  const tampered = text.replace(
    /^domain: ENC\[AES256_GCM,data:([A-Za-z0-9+/]{2})/m,
    (_, head: string) => `domain: ENC[AES256_GCM,data:${head === 'AA' ? 'BB' : 'AA'}`,
  );
  files.set(ENV, tampered);
  assert.notEqual(files.get(ENV), text);
  const report = await validateRepo(memoryRepo(files), { names: ['shop-prod'], decrypt: decryptEnvWith([identity]) });
  const [only, ...rest] = report.errors;
  assert.ok(only);
  assert.deepEqual(rest, []);
  assert.equal(only.file, ENV);
  assert.match(only.message, /^cannot decrypt \(Sops[A-Za-z]+\)/);
});
