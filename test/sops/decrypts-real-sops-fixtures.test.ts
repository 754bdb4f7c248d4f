import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decryptSops, decryptSopsToText, encryptSops, generateIdentity } from '../../agent/sops/index.ts';
import { openWithKey, parseSopsFile } from '../../agent/sops/open.ts';
import { emitYaml } from '../../agent/sops/emit.ts';
import { toJson } from '../../agent/sops/tree.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { ageFixtures, fixture, identitiesOf, pgpFixtures, SOPS_NIX, SOPS_NIX_KEY } from './fixtures.ts';

for (const [name, e] of ageFixtures) {
  test(`decrypts ${name} to its plaintext with a verified MAC`, async () => {
    const { value, metadata } = await decryptSops(fixture(name), {
      file: name,
      identities: identitiesOf(e.keyFile),
      format: e.format,
    });
    assert.deepEqual(value, e.plaintext);
    assert.equal(metadata.lastModified, e.lastmodified);
    assert.equal(metadata.version, e.sopsVersion ?? undefined);
    assert.ok(metadata.recipients.length > 0);
  });
}

for (const [name, e] of pgpFixtures) {
  test(`decrypts PGP fixture ${name} with its known data key (values, comments, MAC)`, () => {
    const { docs, metadata } = parseSopsFile(fixture(name), name, e.format);
    const opened = openWithKey(docs, metadata, Buffer.from(e.dataKeyHex, 'hex'), name);
    assert.deepEqual(toJson(opened.docs[0]!, name), e.plaintext);
  });
}

test('decrypts encrypted comments with the enclosing map path as AAD', () => {
  const name = 'getsops__sops/functional-tests/res/comments.enc.yaml';
  const { docs, metadata } = parseSopsFile(fixture(name), name, 'yaml');
  const key = Buffer.from(pgpFixtures.find(([n]) => n === name)![1].dataKeyHex, 'hex');
  const text = emitYaml(openWithKey(docs, metadata, key, name).docs);
  assert.equal(text, `${fixture('getsops__sops/functional-tests/res/comments.yaml').trimEnd()}\n`);
  const nested = 'getsops__sops/example.yaml';
  const ex = parseSopsFile(fixture(nested), nested, 'yaml');
  const exKey = Buffer.from(pgpFixtures.find(([n]) => n === nested)![1].dataKeyHex, 'hex');
  const out = emitYaml(openWithKey(ex.docs, ex.metadata, exKey, nested).docs);
  assert.match(out, /# private key for secret operations in app2/);
  assert.match(out, /# by adding the `_unencrypted` suffix/);
  assert.doesNotMatch(out, /ENC\[/);
});

test('prints decrypted YAML that keeps go-yaml types and key order', async () => {
  const text = await decryptSopsToText(fixture(SOPS_NIX), { file: SOPS_NIX, identities: identitiesOf(SOPS_NIX_KEY) });
  assert.equal(
    text,
    'test_key: test_value\na_list:\n    - e1\n    - e3\nnested:\n    test:\n        file: another value\n',
  );
});

test('fails with SopsMacMismatch when two values under the same AAD are swapped', async () => {
  // The list items share the AAD `a_list:`, so each still decrypts; only the MAC sees the swap.
  const lines = fixture(SOPS_NIX).split('\n');
  const i = lines.findIndex((l) => l.trimStart().startsWith('- ENC['));
  [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
  await assert.rejects(
    decryptSops(lines.join('\n'), { file: 'swapped.yaml', identities: identitiesOf(SOPS_NIX_KEY) }),
    (err) => isAgentError(err, 'SopsMacMismatch') && err.terminal && err.message.startsWith('swapped.yaml: '),
  );
});

test('reads an encrypted comment stored as a list element (sops 3.13.2 layout) as a comment', async () => {
  const me = await generateIdentity();
  const enc = await encryptSops('list:\n    - a\n    # note\n    - b\n', {
    file: 'env.yml',
    recipients: [me.recipient],
  });
  const asElement = enc.replace(/^ {4}#(ENC\[.*type:comment\])$/m, '    - $1');
  assert.notEqual(asElement, enc);
  const opts = { file: 'env.yml', identities: [me.identity] };
  assert.deepEqual((await decryptSops(asElement, opts)).value, { list: ['a', 'b'] });
  assert.equal(await decryptSopsToText(asElement, opts), 'list:\n    - a\n    # note\n    - b\n');
});
