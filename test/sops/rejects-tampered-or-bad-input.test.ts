import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decryptSops, encryptSops, generateIdentity } from '../../agent/sops/index.ts';
import { isAgentError, type ErrorCode } from '../../agent/core/errors.ts';
import { parseDocument } from 'yaml';
import { fixture, NO_MAC, PGP_ONLY } from './fixtures.ts';

const me = await generateIdentity();
const stranger = await generateIdentity();
const SECRET = 'hunter2-very-secret';
const PLAIN = `db:\n    password: ${SECRET}\n    user: admin\nlist:\n    - first-item\n    - second-item\nport: 5432\n`;
const ENC = await encryptSops(PLAIN, { file: 'env.yml', recipients: [me.recipient] });

function open(text: string, identities = [me.identity], extra: { maxBytes?: number } = {}) {
  return decryptSops(text, { file: 'env.yml', identities, ...extra });
}

/** Asserts a terminal AgentError with `code` that names the file and leaks no secret. */
async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  check: (data: Record<string, unknown>) => void = () => {},
) {
  await assert.rejects(promise, (err) => {
    assert.ok(isAgentError(err, code), `expected ${code}, got ${String(err)}`);
    assert.ok(err.terminal);
    assert.equal(typeof err.data['file'], 'string');
    assert.ok(err.message.startsWith(`${String(err.data['file'])}: `), err.message);
    for (const secret of [SECRET, me.identity, 'first-item']) {
      assert.ok(!err.message.includes(secret), 'message leaks a secret');
      assert.ok(!JSON.stringify(err.data).includes(secret), 'data leaks a secret');
    }
    check(err.data);
    return true;
  });
}

/** Replaces one base64 character of a field in the ENC value on the line starting with `key:`. */
function flip(text: string, key: string, field: 'data' | 'iv' | 'tag', replacement?: string): string {
  return text.replace(
    new RegExp(`(${key}: ENC\\[AES256_GCM,.*?${field}:)(.)`),
    (_, head: string, c: string) => head + (replacement ?? (c === 'A' ? 'B' : 'A')),
  );
}

for (const field of ['data', 'iv', 'tag'] as const) {
  test(`fails with SopsBadValue naming the path when one ${field} character is flipped`, async () => {
    await rejectsWith(open(flip(ENC, 'password', field)), 'SopsBadValue', (data) => {
      assert.equal(data['path'], '/db/password');
    });
    await rejectsWith(open(flip(ENC, 'password', field, '*')), 'SopsBadValue');
  });
}

test('fails when a key holding an encrypted value is renamed (the AAD binds the path)', async () => {
  await rejectsWith(open(ENC.replace('password:', 'passwort:')), 'SopsBadValue', (data) => {
    assert.equal(data['path'], '/db/passwort');
  });
});

test('fails with SopsMacMismatch when a leaf is deleted', async () => {
  const text = ENC.split('\n')
    .filter((line) => !line.includes('user: ENC'))
    .join('\n');
  await rejectsWith(open(text), 'SopsMacMismatch');
});

test('fails with SopsMacMismatch when the stored MAC or lastmodified is altered', async () => {
  await rejectsWith(open(flip(ENC, 'mac', 'data')), 'SopsMacMismatch');
  await rejectsWith(
    open(ENC.replace(/lastmodified: "(\d{4})/, (_, y: string) => `lastmodified: "${String(Number(y) - 1)}`)),
    'SopsMacMismatch',
  );
});

test('fails with SopsMacMissing when the MAC is absent', async () => {
  await rejectsWith(open(ENC.replace(/^ {4}mac: .*\n/m, '')), 'SopsMacMissing');
  await rejectsWith(decryptSops(fixture(NO_MAC), { file: NO_MAC, identities: [me.identity] }), 'SopsMacMissing');
});

test('fails with SopsNoIdentity when no identity opens the data key', async () => {
  await rejectsWith(open(ENC, [stranger.identity]), 'SopsNoIdentity', (data) => {
    assert.deepEqual(data['recipients'], [me.recipient]);
  });
  await rejectsWith(open(ENC, []), 'SopsNoIdentity');
});

test('fails with SopsUnsupportedKeys for a PGP-only file', async () => {
  await rejectsWith(
    decryptSops(fixture(PGP_ONLY), { file: PGP_ONLY, identities: [me.identity] }),
    'SopsUnsupportedKeys',
    (data) => {
      assert.deepEqual(data['keyTypes'], ['pgp']);
    },
  );
});

/** ENC with its flat `age:` list moved into `key_groups` (repeated `copies` times). */
function asKeyGroups(copies: number): string {
  const doc = parseDocument(ENC);
  const ageList = doc.getIn(['sops', 'age']);
  doc.deleteIn(['sops', 'age']);
  doc.setIn(['sops', 'key_groups'], doc.createNode(Array.from({ length: copies }, () => ({ age: ageList }))));
  return doc.toString();
}

test('decrypts a file with a single key_groups entry', async () => {
  assert.match(asKeyGroups(1), /key_groups:/);
  const { value } = await decryptSops(asKeyGroups(1), { file: 'groups.yaml', identities: [me.identity] });
  assert.equal(value['port'], 5432);
});

test('fails with SopsShamirUnsupported for several key groups', async () => {
  await rejectsWith(
    decryptSops(asKeyGroups(2), { file: 'groups.yaml', identities: [me.identity] }),
    'SopsShamirUnsupported',
  );
});

test('fails with SopsBadValue for a malformed ENC string or a clear value in an encrypted slot', async () => {
  await rejectsWith(
    open(ENC.replace(/port: ENC\[[^\n]*/, 'port: ENC[AES256_GCM,data:abc]')),
    'SopsBadValue',
    (data) => {
      assert.equal(data['path'], '/port');
    },
  );
  await rejectsWith(
    open(
      ENC.replace(
        /port: ENC\[[^\n]*/,
        'port: ENC[AES256_GCM,data:YQ==,iv:YQ==,tag:YWFhYWFhYWFhYWFhYWFhYQ==,type:rune]',
      ),
    ),
    'SopsBadValue',
  );
  await rejectsWith(open(ENC.replace(/port: ENC\[[^\n]*/, 'port: 5432')), 'SopsBadValue');
  await rejectsWith(open(ENC.replace(/port: ENC\[[^\n]*/, 'port: plain text')), 'SopsBadValue');
});

test('fails with SopsTooLarge above the size cap', async () => {
  await rejectsWith(open(ENC, [me.identity], { maxBytes: 100 }), 'SopsTooLarge', (data) => {
    assert.equal(data['maxBytes'], 100);
  });
  await rejectsWith(open(`${ENC}# ${'x'.repeat(1024 * 1024)}\n`), 'SopsTooLarge');
});

test('fails with SopsParseError and the line for duplicate keys and broken YAML or JSON', async () => {
  await rejectsWith(open(`port: 1\n${ENC}`), 'SopsParseError', (data) => {
    assert.equal(data['line'], 8);
  });
  await rejectsWith(open('a: [\n'), 'SopsParseError', (data) => {
    assert.equal(typeof data['line'], 'number');
  });
  await rejectsWith(decryptSops('{"a": 1, "a": 2}', { file: 'x.json', identities: [] }), 'SopsParseError', (data) => {
    assert.equal(data['line'], 1);
  });
  await rejectsWith(decryptSops('{"a": nope}', { file: 'x.json', identities: [] }), 'SopsParseError');
});

test('fails with SopsNotEncrypted without sops metadata, and on bad metadata', async () => {
  await rejectsWith(open(PLAIN), 'SopsNotEncrypted');
  await rejectsWith(open(''), 'SopsNotEncrypted');
  await rejectsWith(
    open(
      ENC.replace(
        '    unencrypted_suffix: _unencrypted\n',
        '    unencrypted_suffix: _unencrypted\n    encrypted_regex: ^x\n',
      ),
    ),
    'SopsBadMetadata',
  );
  await rejectsWith(
    open(ENC.replace('    unencrypted_suffix: _unencrypted\n', '    encrypted_comment_regex: ^x\n')),
    'SopsUnsupportedRule',
  );
  await rejectsWith(
    open(ENC.replace('    unencrypted_suffix: _unencrypted\n', '    encrypted_regex: (?=x)\n')),
    'SopsUnsupportedRule',
  );
});

test('refuses on encrypt: a sops key, non-mapping documents, non-string keys, anchors, aliases, tags', async () => {
  const enc = (text: string, file = 'env.yml') => encryptSops(text, { file, recipients: [me.recipient] });
  await rejectsWith(enc(ENC), 'SopsAlreadyEncrypted');
  await rejectsWith(enc('sops: {}\n'), 'SopsAlreadyEncrypted');
  for (const bad of [
    '- a\n- b\n',
    'just text\n',
    '1: one\n',
    'true: x\n',
    '? [a]\n: b\n',
    'a: &x 1\n',
    'a: 1\nb: *a\n',
    'a: !!str 1\n',
    'a: 1\n---\nb: 2\n',
    '',
    'a: 18446744073709551615\n',
  ])
    await rejectsWith(enc(bad), 'SopsParseError');
  await rejectsWith(enc('["x"]', 'x.json'), 'SopsParseError');
  for (const broken of [`password: |${SECRET}\n`, `password: "${SECRET}\\q"\n`, `a: b\n  c: ${SECRET}\n`])
    await rejectsWith(enc(broken), 'SopsParseError', (data) => {
      assert.equal(typeof data['line'], 'number');
    });
});

test('refuses on encrypt: missing, malformed or unsupported recipients', async () => {
  await rejectsWith(encryptSops('a: 1\n', { file: 'env.yml', recipients: [] }), 'SopsBadRecipient');
  for (const r of ['age1notvalid', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample', me.identity])
    await rejectsWith(encryptSops('a: 1\n', { file: 'env.yml', recipients: [r] }), 'SopsBadRecipient');
});
