import { armorDecode } from './age-x25519.ts';
import { emitJson, emitYaml } from './emit.ts';
import { sopsError } from './errors.ts';
import { MacHasher } from './mac.ts';
import { metadataNode, type AgeEntry } from './metadata.ts';
import { openWithKey, parseSopsFile, pathTest } from './open.ts';
import { parseTree, type Format } from './parse.ts';
import type { EncryptionRule } from './rules.ts';
import { entries, sameNode, type MapNode } from './tree.ts';
import { encryptValue } from './value-cipher.ts';
import { encryptTree, type IvStash } from './walk.ts';

export interface SealParams {
  file: string;
  format: Format;
  dataKey: Uint8Array;
  age: readonly AgeEntry[];
  rule: EncryptionRule;
  macOnlyEncrypted: boolean;
  stash?: IvStash;
}

/** Encrypts, appends metadata, emits, then re-reads the output and checks MAC and values. */
export function seal(docs: MapNode[], p: SealParams): string {
  const mac = new MacHasher(p.macOnlyEncrypted);
  const ctx = { file: p.file, key: p.dataKey, shouldEncrypt: pathTest(p.rule, p.file), mac, ...stashOf(p) };
  const encrypted = docs.map((doc) => encryptTree(doc, ctx));
  const lastModified = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const metadata = metadataNode({
    age: p.age,
    lastModified,
    mac: encryptValue('str', Buffer.from(mac.hex(), 'utf8'), p.dataKey, lastModified),
    rule: p.rule,
    macOnlyEncrypted: p.macOnlyEncrypted,
  });
  const withMeta = encrypted.map((doc) => ({ ...doc, items: [...doc.items, entry('sops', metadata)] }));
  const out = emit(p.format, withMeta);
  selfCheck(out, docs, p);
  return out;
}

function selfCheck(out: string, expected: readonly MapNode[], p: SealParams): void {
  const fail = (why: string, cause?: unknown) =>
    sopsError(
      'SopsSelfCheckFailed',
      p.file,
      `internal error: the encrypted output does not read back (${why})`,
      {},
      cause,
    );
  let docs: MapNode[];
  try {
    const parsed = parseSopsFile(out, p.file, p.format);
    for (const a of parsed.metadata.age) armorDecode(a.enc);
    docs = openWithKey(parsed.docs, parsed.metadata, p.dataKey, p.file).docs;
  } catch (err) {
    throw fail('decrypt', err);
  }
  if (docs.length !== expected.length || !docs.every((d, i) => sameNode(d, expected[i] as MapNode)))
    throw fail('values differ');
}

/** Parses plaintext for encryption: one mapping document, strict YAML, no `sops` key. */
export function parsePlaintext(text: string, file: string, format: Format): MapNode[] {
  const docs = parseTree(text, { file, format, strict: true });
  const [doc, ...more] = docs;
  if (doc === undefined) throw sopsError('SopsParseError', file, 'nothing to encrypt (no YAML document)');
  if (more.length > 0) throw sopsError('SopsParseError', file, 'multiple YAML documents are not supported');
  if (entries(doc).some((e) => e.key === 'sops'))
    throw sopsError(
      'SopsAlreadyEncrypted',
      file,
      'is already encrypted (it has a top-level "sops" key, which is reserved)',
    );
  return docs;
}

/** Writes documents in their format (JSON has a single document). */
export function emit(format: Format, docs: readonly MapNode[]): string {
  const [first] = docs;
  return format === 'json' && first !== undefined ? emitJson(first) : emitYaml(docs);
}

function entry(key: string, value: MapNode) {
  return { kind: 'entry' as const, key, value };
}

function stashOf(p: SealParams): { stash?: IvStash } {
  return p.stash === undefined ? {} : { stash: p.stash };
}
