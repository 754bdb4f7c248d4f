import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { decryptEnvWith } from '../../agent/config/decrypt-env.ts';
import { decryptSops, encryptSops, generateIdentity } from '../../agent/sops/index.ts';
import { isAgentError } from '../../agent/core/errors.ts';

const me = await generateIdentity();
const PLAIN =
  'domain: shop.example.test\napp:\n    settings:\n        MODE: shop\n    secrets:\n        KEY: s3cr3t-value\n';

function refused(paths: string[]): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isAgentError(err, 'SopsUnprotectedValue'), String(err));
    assert.deepEqual(err.data['paths'], paths);
    assert.doesNotMatch(err.message, /s3cr3t/);
    return true;
  };
}

test('an empty key added to an encrypted env.yml passes the MAC but is refused', async () => {
  const enc = await encryptSops(PLAIN, { file: 'env.yml', recipients: [me.recipient] });
  // Added by someone without the key: empty values are neither encrypted nor in the MAC.
  const forged = enc.replace(/(\n {4}secrets:\n)/, '\n        DEBUG: ""$1');
  assert.notEqual(forged, enc);
  const opened = await decryptSops(forged, { file: 'env.yml', identities: [me.identity] });
  assert.deepEqual((opened.value['app'] as { settings: object }).settings, { MODE: 'shop', DEBUG: '' });
  await assert.rejects(decryptEnvWith([me.identity])(forged, 'env.yml'), refused(['/app/settings/DEBUG']));
  assert.ok(await decryptEnvWith([me.identity])(enc, 'env.yml'));
});

test('a value the SOPS rule leaves in clear (its key can be renamed) is refused', async () => {
  const plain = PLAIN.replace('MODE: shop', 'MODE_unencrypted: shop');
  const enc = await encryptSops(plain, { file: 'env.yml', recipients: [me.recipient] });
  assert.match(enc, /MODE_unencrypted: shop/);
  await assert.rejects(decryptEnvWith([me.identity])(enc, 'env.yml'), refused(['/app/settings/MODE_unencrypted']));
});

test("env.yml's schema refuses unknown keys in every object with fixed keys", async () => {
  const schema = JSON.parse(await readFile('schema/env.schema.json', 'utf8')) as unknown;
  const open: string[] = [];
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node))
      node.forEach((n, i) => {
        walk(n, `${at}/${String(i)}`);
      });
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
    const n = node as Record<string, unknown>;
    if (n['properties'] !== undefined && n['additionalProperties'] !== false) open.push(at);
    for (const [k, v] of Object.entries(n)) walk(v, `${at}/${k}`);
  };
  walk(schema, '');
  assert.deepEqual(open, []);
});
