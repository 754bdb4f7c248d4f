import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSopsFile } from '../../agent/sops/open.ts';
import { goRfc3339 } from '../../agent/sops/mac.ts';
import { decryptValue, encryptValue, isEncValue } from '../../agent/sops/value-cipher.ts';
import type { Node } from '../../agent/sops/tree.ts';
import { expected, fixture } from './fixtures.ts';

/** Every ENC string of a tree with the candidate AADs sops could have used for it. */
function* encValues(node: Node, path: string[]): Generator<{ enc: string; aads: string[] }> {
  const aad = (p: string[]) => `${p.join(':')}:`;
  const outwards = () => path.map((_, i) => aad(path.slice(0, path.length - i))).concat(':');
  if (node.kind === 'str' && isEncValue(node.value)) yield { enc: node.value, aads: [aad(path)] };
  if (node.kind === 'seq')
    for (const item of node.items)
      if (item.kind === 'comment') {
        if (isEncValue(item.text)) yield { enc: item.text, aads: outwards() };
      } else yield* encValues(item, path);
  if (node.kind === 'map')
    for (const item of node.items)
      if (item.kind === 'comment') {
        if (isEncValue(item.text)) yield { enc: item.text, aads: outwards() };
      } else if (item.key !== 'sops' || path.length > 0) yield* encValues(item.value, [...path, item.key]);
}

test('re-encrypting every ENC value with its key, IV and AAD reproduces sops byte for byte', () => {
  let count = 0;
  for (const [name, e] of Object.entries(expected)) {
    const key = Buffer.from(e.dataKeyHex, 'hex');
    const { docs, metadata } = parseSopsFile(fixture(name), name, e.format);
    const all = docs.flatMap((d) => [...encValues(d, [])]);
    all.push({ enc: metadata.mac ?? '', aads: [goRfc3339(metadata.lastModified) ?? ''] });
    for (const { enc, aads } of all) {
      const aad = aads.find((a) => {
        try {
          decryptValue(enc, key, a);
          return true;
        } catch {
          return false;
        }
      });
      assert.ok(aad !== undefined, `${name}: a value does not decrypt`);
      const { type, plain, iv } = decryptValue(enc, key, aad);
      assert.equal(encryptValue(type, plain, key, aad, iv), enc, `${name}: ${aad}`);
      count++;
    }
  }
  console.log(`re-encrypted ${String(count)} values`);
  assert.ok(count >= 80, `only ${String(count)} values checked`);
});
