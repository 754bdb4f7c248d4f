import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../core/json.ts';
import { identityToRecipient, unwrapDataKey, wrapDataKey } from './age-keys.ts';
import { sopsError } from './errors.ts';
import type { AgeEntry, SopsMetadata } from './metadata.ts';
import { openWithKey, parseSopsFile } from './open.ts';
import type { Format } from './parse.ts';
import { DEFAULT_RULE, type EncryptionRule } from './rules.ts';
import { emit, parsePlaintext, seal } from './seal.ts';
import { toJson, type MapNode } from './tree.ts';
import type { IvStash } from './walk.ts';

export const DEFAULT_MAX_BYTES = 1024 * 1024;

export interface DecryptOptions {
  /** Named in every error; also picks the format when `format` is not given. */
  file: string;
  identities: readonly string[];
  format?: Format;
  /** Refuse larger input (default 1 MiB). */
  maxBytes?: number;
}

/** Public facts about a decrypted file. */
export interface SopsFileInfo {
  recipients: string[];
  lastModified: string;
  version?: string;
  rule: EncryptionRule;
  macOnlyEncrypted: boolean;
}

export interface EncryptOptions {
  file: string;
  recipients: readonly string[];
  format?: Format;
  rule?: EncryptionRule;
  macOnlyEncrypted?: boolean;
  /** Reuse this 32-byte data key instead of generating one. */
  dataKey?: Uint8Array;
}

/** `.json` files are JSON, everything else YAML (as the sops CLI decides). */
export function formatForFile(file: string): Format {
  return file.toLowerCase().endsWith('.json') ? 'json' : 'yaml';
}

/** A decrypted file: typed trees (one per YAML document) and what is needed to re-seal it. */
interface Opened {
  format: Format;
  docs: MapNode[];
  metadata: SopsMetadata;
  dataKey: Uint8Array;
  stash: IvStash;
}

/**
 * Decrypts a sops YAML/JSON file with age identities and verifies its MAC. The value is the
 * top-level mapping as JSON data (key order kept, except that JS puts integer-like keys first).
 */
export async function decryptSops(
  text: string,
  opts: DecryptOptions,
): Promise<{ value: JsonObject; metadata: SopsFileInfo }> {
  const opened = await openSops(text, opts);
  const [doc, ...more] = opened.docs;
  if (doc === undefined || more.length > 0)
    throw sopsError('SopsParseError', opts.file, 'expected exactly one YAML document');
  return { value: toJson(doc, opts.file) as JsonObject, metadata: info(opened.metadata) };
}

/** Decrypts and verifies like `decryptSops`, returning the plaintext file (YAML or JSON). */
export async function decryptSopsToText(text: string, opts: DecryptOptions): Promise<string> {
  const { format, docs } = await openSops(text, opts);
  return emit(format, docs);
}

/** Encrypts a plaintext YAML/JSON mapping for age recipients, exactly as sops would. */
export async function encryptSops(plaintext: string, opts: EncryptOptions): Promise<string> {
  const format = opts.format ?? formatForFile(opts.file);
  const docs = parsePlaintext(plaintext, opts.file, format);
  const dataKey = opts.dataKey ?? randomBytes(32);
  if (dataKey.length !== 32) throw new RangeError('a sops data key has 32 bytes');
  return seal(docs, {
    file: opts.file,
    format,
    dataKey,
    age: await wrapForAll(dataKey, opts.recipients, opts.file),
    rule: opts.rule ?? DEFAULT_RULE,
    macOnlyEncrypted: opts.macOnlyEncrypted ?? false,
  });
}

/**
 * Replaces the content of an encrypted file with new plaintext, keeping its data key, its
 * `age` entries, rule and flags, and the ciphertext of every unchanged value (small diffs).
 */
export async function updateSops(encrypted: string, plaintext: string, opts: DecryptOptions): Promise<string> {
  const opened = await openSops(encrypted, opts);
  if (opened.metadata.otherKeyTypes.length > 0)
    throw sopsError('SopsUnsupportedKeys', opts.file, 'the file also has non-age keys, which would be lost', {
      keyTypes: opened.metadata.otherKeyTypes,
    });
  return seal(parsePlaintext(plaintext, opts.file, opened.format), {
    file: opts.file,
    format: opened.format,
    dataKey: opened.dataKey,
    age: opened.metadata.age,
    rule: opened.metadata.rule,
    macOnlyEncrypted: opened.metadata.macOnlyEncrypted,
    stash: opened.stash,
  });
}

/** Re-encrypts a file for a new recipient set under a new data key (key rotation). */
export async function rotateSops(
  encrypted: string,
  opts: DecryptOptions & { recipients: readonly string[] },
): Promise<string> {
  const opened = await openSops(encrypted, opts);
  const dataKey = randomBytes(32);
  return seal(opened.docs, {
    file: opts.file,
    format: opened.format,
    dataKey,
    age: await wrapForAll(dataKey, opts.recipients, opts.file),
    rule: opened.metadata.rule,
    macOnlyEncrypted: opened.metadata.macOnlyEncrypted,
  });
}

async function wrapForAll(dataKey: Uint8Array, recipients: readonly string[], file: string): Promise<AgeEntry[]> {
  if (recipients.length === 0) throw sopsError('SopsBadRecipient', file, 'no age recipient given');
  const wrapped: AgeEntry[] = [];
  for (const r of recipients) wrapped.push(await wrapDataKey(dataKey, r, file));
  return wrapped;
}

async function openSops(text: string, opts: DecryptOptions): Promise<Opened> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes)
    throw sopsError('SopsTooLarge', opts.file, `file is larger than ${String(maxBytes)} bytes`, { size, maxBytes });
  const format = opts.format ?? formatForFile(opts.file);
  const { docs, metadata } = parseSopsFile(text, opts.file, format);
  if (metadata.mac === undefined) throw sopsError('SopsMacMissing', opts.file, 'file has no MAC; refusing to trust it');
  if (metadata.age.length === 0)
    throw sopsError('SopsUnsupportedKeys', opts.file, keyProblem(metadata), { keyTypes: metadata.otherKeyTypes });
  const dataKey = await unwrapDataKey(metadata.age, opts.identities, opts.file);
  if (dataKey === undefined) {
    // Public keys only: which key this side has and which keys the file is for.
    const recipients = metadata.age.map((a) => a.recipient);
    const mine = await Promise.all(opts.identities.map((i) => identityToRecipient(i).catch(() => '(unreadable)')));
    throw sopsError(
      'SopsNoIdentity',
      opts.file,
      `none of the given age identities can decrypt the data key: they are for ${mine.join(', ') || 'no key'}, the file is encrypted for ${recipients.join(', ')}`,
      { recipients, identities: mine },
    );
  }
  return { format, dataKey, metadata, ...openWithKey(docs, metadata, dataKey, opts.file) };
}

function keyProblem(m: SopsMetadata): string {
  return m.otherKeyTypes.length > 0
    ? `the data key is only encrypted for unsupported key types (${m.otherKeyTypes.join(', ')}); age is needed`
    : 'the file has no age recipients';
}

function info(m: SopsMetadata): SopsFileInfo {
  return {
    recipients: m.age.map((a) => a.recipient),
    lastModified: m.lastModified,
    ...(m.version === undefined ? {} : { version: m.version }),
    rule: m.rule,
    macOnlyEncrypted: m.macOnlyEncrypted,
  };
}
