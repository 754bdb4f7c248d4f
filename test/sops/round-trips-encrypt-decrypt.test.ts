import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument } from 'yaml';
import {
  decryptSops,
  decryptSopsToText,
  encryptSops,
  generateIdentity,
  rotateSops,
  updateSops,
  type EncryptionRule,
} from '../../agent/sops/index.ts';
import { emitJson, emitYaml } from '../../agent/sops/emit.ts';
import { parseTree } from '../../agent/sops/parse.ts';
import { ageFixtures, fixture, identitiesOf, PQ_KEY, ROPS_EXAMPLE } from './fixtures.ts';

const x25519 = await generateIdentity();
const pq = await generateIdentity({ postQuantum: true });
const other = await generateIdentity();

const TRICKY = `# leading comment
octal: 0777
underscored: 1_000
legacy_octal: 010
not_octal: 08
hex: 0x1F
exp: 1e3
one_point_zero: 1.0
tiny: 1.5e-7
huge: 1e21
neg_zero: -0
big: 9007199254740993
bool_lower: true
bool_title: True
nothing: null
tilde: ~
empty: ""
date: 2024-01-01
quoted_int: "123"
yes_word: yes
unicode: "héllo ✓ 日本 \\u0001"
"2024": digit-only key
"10": ten
a: order matters
multi: |
    line one
    line two
folded: >
    folded
    text
nested:
    list:
        - 1
        - [a, b]
        - {k: v, n: null}
        # between items
        - ""
    deeper:
        map: {x: 1.25}
mixed_unencrypted:
    keep: 0777
    float: 2.50
# trailing comment
`;

function decryptText(text: string, identity: string, file = 'env.yml'): Promise<string> {
  return decryptSopsToText(text, { file, identities: [identity] });
}

test('round-trips tricky go-yaml values, comments and key order through encrypt and decrypt', async () => {
  const enc = await encryptSops(TRICKY, { file: 'env.yml', recipients: [x25519.recipient] });
  const expectedText = emitYaml(parseTree(TRICKY, { file: 'env.yml', format: 'yaml', strict: true }));
  assert.equal(await decryptText(enc, x25519.identity), expectedText);
  assert.doesNotMatch(enc, /héllo|line one|digit-only/);
  assert.match(enc, /^ {4}keep: 511$/m, 'plain leaves are written in canonical go-yaml spelling');
  const out = await decryptText(enc, x25519.identity);
  for (const line of ['octal: 511', 'underscored: 1000', 'legacy_octal: 8', 'not_octal: 8.0', 'hex: 31'])
    assert.match(out, new RegExp(`^${line}$`, 'm'));
  for (const line of [
    'exp: 1000.0',
    'one_point_zero: 1.0',
    'tiny: 1.5e-07',
    'huge: 1e+21',
    'neg_zero: 0',
    'big: 9007199254740993',
  ])
    assert.match(out, new RegExp(`^${line.replace(/[.+]/g, '\\$&')}$`, 'm'));
  for (const line of [
    'bool_title: true',
    'date: "2024-01-01"',
    'quoted_int: "123"',
    'yes_word: "yes"',
    '"2024": digit-only key',
  ])
    assert.match(out, new RegExp(`^${line}$`, 'm'));
  assert.match(out, /^# leading comment\n/);
  assert.match(out, /# between items/);
  // Printing and re-encrypting the printout gives the same typed values again.
  const again = await encryptSops(out, { file: 'env.yml', recipients: [x25519.recipient] });
  assert.equal(await decryptText(again, x25519.identity), out);
});

test('decryptSops returns JSON data and refuses integers outside the safe range', async () => {
  const small = await encryptSops('a: 0777\nb: [1.5, true, null, x]\n"2": two\n', {
    file: 'env.yml',
    recipients: [x25519.recipient],
  });
  const { value, metadata } = await decryptSops(small, { file: 'env.yml', identities: [x25519.identity] });
  assert.deepEqual(value, { a: 511, b: [1.5, true, null, 'x'], 2: 'two' });
  assert.deepEqual(metadata.rule, { kind: 'unencrypted_suffix', value: '_unencrypted' });
  assert.equal(metadata.version, '3.10.2');
  const big = await encryptSops(TRICKY, { file: 'env.yml', recipients: [x25519.recipient] });
  await assert.rejects(
    decryptSops(big, { file: 'env.yml', identities: [x25519.identity] }),
    (err: Error & { code?: string; data?: { path?: string } }) =>
      err.code === 'SopsUnsafeInteger' && err.data?.path === '/big',
  );
});

for (const [name, e] of ageFixtures) {
  test(`round-trips the plaintext of ${name}`, async () => {
    const plain = await decryptSopsToText(fixture(name), {
      file: name,
      identities: identitiesOf(e.keyFile),
      format: e.format,
    });
    const enc = await encryptSops(plain, { file: name, format: e.format, recipients: [x25519.recipient] });
    const { value } = await decryptSops(enc, { file: name, format: e.format, identities: [x25519.identity] });
    assert.deepEqual(value, e.plaintext);
  });
}

const RULES: [EncryptionRule, string[], string[]][] = [
  [{ kind: 'unencrypted_suffix', value: '_unencrypted' }, ['db'], ['note_unencrypted']],
  [{ kind: 'encrypted_suffix', value: '_secret' }, ['token_secret'], ['db', 'note_unencrypted']],
  [{ kind: 'unencrypted_regex', value: '^(note|kind)' }, ['db'], ['note_unencrypted', 'kind']],
  [{ kind: 'encrypted_regex', value: '^(db|token)' }, ['db', 'token_secret'], ['kind', 'note_unencrypted']],
];
const RULE_INPUT = 'kind: Secret\ndb:\n    password: pw\n    port: 5432\ntoken_secret: t0k\nnote_unencrypted: hello\n';

for (const [rule, encryptedKeys, plainKeys] of RULES) {
  for (const macOnlyEncrypted of [false, true]) {
    test(`encrypts by ${rule.kind}${macOnlyEncrypted ? ' with mac_only_encrypted' : ''}`, async () => {
      const enc = await encryptSops(RULE_INPUT, {
        file: 'env.yml',
        recipients: [x25519.recipient],
        rule,
        macOnlyEncrypted,
      });
      const sops = parseDocument(enc).toJS() as Record<string, unknown> & { sops: Record<string, unknown> };
      for (const k of encryptedKeys) assert.match(JSON.stringify(sops[k]), /ENC\[AES256_GCM/, k);
      for (const k of plainKeys) assert.doesNotMatch(JSON.stringify(sops[k]), /ENC\[/, k);
      assert.equal(sops.sops[rule.kind], rule.value);
      assert.equal(sops.sops['mac_only_encrypted'], macOnlyEncrypted ? true : undefined);
      const { value, metadata } = await decryptSops(enc, { file: 'env.yml', identities: [x25519.identity] });
      assert.deepEqual(value, {
        kind: 'Secret',
        db: { password: 'pw', port: 5432 },
        token_secret: 't0k',
        note_unencrypted: 'hello',
      });
      assert.deepEqual(metadata.rule, rule);
      assert.equal(metadata.macOnlyEncrypted, macOnlyEncrypted);
      // note_unencrypted stays plain under every rule: with mac_only_encrypted it may be edited.
      const edited = enc.replace('note_unencrypted: hello', 'note_unencrypted: bye');
      assert.notEqual(edited, enc);
      const result = decryptSops(edited, { file: 'env.yml', identities: [x25519.identity] });
      if (macOnlyEncrypted) assert.equal((await result).value['note_unencrypted'], 'bye');
      else await assert.rejects(result, { code: 'SopsMacMismatch' });
    });
  }
}

test('encrypts for several recipients, one age file each, including post-quantum', async () => {
  const enc = await encryptSops('secret: value\n', {
    file: 'env.yml',
    recipients: [x25519.recipient, pq.recipient, other.recipient],
  });
  const sops = (parseDocument(enc).toJS() as { sops: { age: { recipient: string; enc: string }[] } }).sops;
  assert.deepEqual(
    sops.age.map((a) => a.recipient),
    [x25519.recipient, pq.recipient, other.recipient],
  );
  for (const a of sops.age)
    assert.match(a.enc, /^-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]+\n-----END AGE ENCRYPTED FILE-----\n$/);
  assert.match(enc, /^ {10}enc: \|\n/m, 'enc is a literal block');
  for (const id of [x25519, pq, other]) {
    const { value } = await decryptSops(enc, { file: 'env.yml', identities: [id.identity] });
    assert.deepEqual(value, { secret: 'value' });
  }
  // Several identities, the first of which opens nothing.
  const withStranger = await decryptSops(enc, { file: 'env.yml', identities: [...identitiesOf(PQ_KEY), pq.identity] });
  assert.deepEqual(withStranger.value, { secret: 'value' });
});

test('writes JSON for JSON input and keeps number types', async () => {
  const plain = '{"n": 1, "f": 1.0, "big": 12345678901234567890, "s": "x", "l": [true, null, {"k": "v"}], "e": {}}';
  const enc = await encryptSops(plain, { file: 'secret.json', recipients: [x25519.recipient] });
  const parsed = JSON.parse(enc) as { n: string; sops: { version: string; age: unknown[] } };
  assert.match(parsed.n, /type:int\]$/);
  assert.equal(parsed.sops.version, '3.10.2');
  const out = await decryptText(enc, x25519.identity, 'secret.json');
  assert.equal(out, emitJson(parseTree(plain, { file: 'x.json', format: 'json', strict: true })[0]!));
  assert.match(out, /"f": 1\.0/);
});

test('updateSops keeps the data key, age entries and unchanged ciphertexts', async () => {
  const enc = await encryptSops('a: one\nb: two\nlist: [x, y]\n', { file: 'env.yml', recipients: [x25519.recipient] });
  const updated = await updateSops(enc, 'a: one\nb: changed\nlist: [x, y]\n', {
    file: 'env.yml',
    identities: [x25519.identity],
  });
  const before = new Set(enc.split('\n'));
  const changed = updated
    .split('\n')
    .filter((line) => !before.has(line))
    .map((line) => line.trim().split(':')[0])
    .filter((key) => key !== 'lastmodified');
  assert.deepEqual(changed, ['b', 'mac']);
  assert.deepEqual((await decryptSops(updated, { file: 'env.yml', identities: [x25519.identity] })).value, {
    a: 'one',
    b: 'changed',
    list: ['x', 'y'],
  });
});

test('rotateSops re-encrypts for a new recipient set under a new data key', async () => {
  const enc = await encryptSops(fixture(ROPS_EXAMPLE).split('sops:')[0]!, {
    file: 'env.yml',
    recipients: [x25519.recipient],
  });
  const rotated = await rotateSops(enc, {
    file: 'env.yml',
    identities: [x25519.identity],
    recipients: [other.recipient, pq.recipient],
  });
  await assert.rejects(decryptSops(rotated, { file: 'env.yml', identities: [x25519.identity] }), {
    code: 'SopsNoIdentity',
  });
  assert.equal(await decryptText(rotated, pq.identity), await decryptText(enc, x25519.identity));
});

test('reuses a given data key', async () => {
  const dataKey = Buffer.alloc(32, 7);
  const a = await encryptSops('k: v\n', { file: 'env.yml', recipients: [x25519.recipient], dataKey });
  const b = await encryptSops('k: v\n', { file: 'env.yml', recipients: [other.recipient], dataKey });
  const opened = [a, b].map((t) => t.split('\n').find((l) => l.startsWith('k: '))!);
  assert.notEqual(opened[0], opened[1], 'fresh IVs each time');
  assert.deepEqual((await decryptSops(b, { file: 'env.yml', identities: [other.identity] })).value, { k: 'v' });
});
