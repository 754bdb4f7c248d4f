import { sopsError } from './errors.ts';
import { goRfc3339, MacHasher, sameMac } from './mac.ts';
import { readMetadata, type SopsMetadata } from './metadata.ts';
import { parseTree, type Format } from './parse.ts';
import { compileRule, type EncryptionRule, type PathTest } from './rules.ts';
import type { MapNode } from './tree.ts';
import { decryptValue, ValueError } from './value-cipher.ts';
import { decryptTree, type IvStash } from './walk.ts';

/** Decrypts parsed documents with a known data key and verifies the MAC (fail closed). */
export function openWithKey(
  parsed: readonly MapNode[],
  metadata: SopsMetadata,
  dataKey: Uint8Array,
  file: string,
): { docs: MapNode[]; stash: IvStash } {
  const mac = new MacHasher(metadata.macOnlyEncrypted);
  const stash: IvStash = new Map();
  const ctx = { file, key: dataKey, shouldEncrypt: pathTest(metadata.rule, file), mac, stash };
  const docs = parsed.map((doc) => decryptTree(withoutSops(doc), ctx));
  const aad = goRfc3339(metadata.lastModified);
  if (aad === undefined) throw sopsError('SopsBadMetadata', file, 'lastmodified is not an RFC 3339 time');
  let stored: string;
  try {
    stored = decryptValue(metadata.mac ?? '', dataKey, aad).plain.toString('utf8');
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    throw sopsError('SopsMacMismatch', file, `the stored MAC cannot be decrypted: ${err.message}`);
  }
  if (!sameMac(stored, mac.hex()))
    throw sopsError('SopsMacMismatch', file, 'MAC mismatch: values were changed, removed or reordered');
  return { docs, stash };
}

/** Parses a YAML/JSON sops file (for callers that bring their own data key). */
export function parseSopsFile(text: string, file: string, format: Format): { docs: MapNode[]; metadata: SopsMetadata } {
  const docs = parseTree(text, { file, format, strict: false });
  return { docs, metadata: readMetadata(docs[0] ?? { kind: 'map', items: [] }, file) };
}

/** The rule as a path test; a regex JS cannot read like Go is an error naming the file. */
export function pathTest(rule: EncryptionRule, file: string): PathTest {
  try {
    return compileRule(rule);
  } catch (err) {
    throw sopsError('SopsUnsupportedRule', file, `${rule.kind}: ${(err as Error).message}`, { rule: rule.kind });
  }
}

function withoutSops(doc: MapNode): MapNode {
  return { kind: 'map', items: doc.items.filter((i) => i.kind !== 'entry' || i.key !== 'sops') };
}
