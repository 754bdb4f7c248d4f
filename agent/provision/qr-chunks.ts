import { AgentError } from '../core/errors.ts';

/**
 * The paper-backup chunk format (version 1). One chunk is the text of one QR code:
 *
 *     APPL1 <SET> <I>/<N> <CRC> <PAYLOAD>
 *
 * - `SET`: SHA-256 of the whole container (the bytes being split), 64 upper-case hex digits.
 *   It names the set and verifies the reassembled bytes.
 * - `I/N`: this chunk's number (1-based) and the number of chunks, decimal.
 * - `CRC`: CRC-32 (IEEE, as in gzip) of the chunk text without the CRC field and its space,
 *   8 upper-case hex digits; it pins a damaged code to its number.
 * - `PAYLOAD`: RFC 4648 base32 of bytes [(I-1)·640, I·640) of the container; `=` padding
 *   only at the end of the last chunk.
 *
 * Everything but the padding is in the QR alphanumeric set, so codes use alphanumeric mode.
 * Base32 over base45 (RFC 9285, ~7% denser there): `base32 -d` ships with coreutils and
 * Python's standard library, so the paper can be decoded without this tool.
 */
export const CHUNK_MAGIC = 'APPL1';
/** Base32 characters per full chunk: 640 bytes. With the header a chunk fits QR version 22-M. */
export const DEFAULT_PAYLOAD_CHARS = 1024;
export const MAX_CHUNKS = 9999;

/** A hash function passed in so this module stays free of I/O libraries (node:crypto's SHA-256). */
export type Sha256 = (data: Uint8Array) => Uint8Array;

export interface Chunk {
  setId: string;
  index: number;
  total: number;
  /** The full text to put into one QR code. */
  text: string;
}

export interface ParsedChunk extends Chunk {
  payload: string;
  /** False when the CRC does not match: the code was damaged or misread. */
  intact: boolean;
}

export interface AssembledSet {
  container: Uint8Array;
  setId: string;
  total: number;
  /** What was skipped on the way (duplicates, foreign codes, other sets); safe to print. */
  notes: string[];
}

/** Splits `container` into chunk texts, one per QR code. */
export function splitIntoChunks(container: Uint8Array, options: { sha256: Sha256; payloadChars?: number }): Chunk[] {
  const payloadChars = options.payloadChars ?? DEFAULT_PAYLOAD_CHARS;
  if (payloadChars < 8 || payloadChars % 8 !== 0)
    throw new AgentError('ChunkSizeInvalid', `payload size ${payloadChars} is not a positive multiple of 8`);
  if (container.length === 0) throw new AgentError('ChunkSetEmpty', 'there is no data to split', { terminal: true });
  const bytesPerChunk = (payloadChars / 8) * 5;
  const total = Math.ceil(container.length / bytesPerChunk);
  if (total > MAX_CHUNKS)
    throw new AgentError('ChunkSetTooLarge', `${container.length} bytes need ${total} chunks (limit ${MAX_CHUNKS})`, {
      terminal: true,
      data: { bytes: container.length, chunks: total },
    });
  const setId = toHex(options.sha256(container));
  const chunks: Chunk[] = [];
  for (let i = 0; i < total; i++) {
    const payload = base32Encode(container.subarray(i * bytesPerChunk, (i + 1) * bytesPerChunk));
    chunks.push({ setId, index: i + 1, total, text: formatChunk(setId, i + 1, total, payload) });
  }
  return chunks;
}

/** Builds a chunk's text, computing its CRC. */
export function formatChunk(setId: string, index: number, total: number, payload: string): string {
  const crc = crc32(ascii(`${CHUNK_MAGIC} ${setId} ${index}/${total} ${payload}`));
  return `${CHUNK_MAGIC} ${setId} ${index}/${total} ${hex32(crc)} ${payload}`;
}

const CHUNK_RE = /^APPL1 ([0-9A-F]{64}) ([1-9][0-9]{0,3})\/([1-9][0-9]{0,3}) ([0-9A-F]{8}) ([A-Z2-7]*=*)$/;

/**
 * Parses one decoded QR text. Returns undefined for text that is not a chunk of this format
 * (another QR code on the page); a chunk whose header parses but whose CRC fails comes back
 * with `intact: false`.
 */
export function parseChunk(raw: string): ParsedChunk | undefined {
  const text = raw.trim();
  const m = CHUNK_RE.exec(text);
  if (m === null) return undefined;
  const [, setId = '', i = '', n = '', crc = '', payload = ''] = m;
  const index = Number(i);
  const total = Number(n);
  if (index > total) return undefined;
  const intact = hex32(crc32(ascii(`${CHUNK_MAGIC} ${setId} ${i}/${n} ${payload}`))) === crc;
  return { setId, index, total, text, payload, intact };
}

/**
 * Reassembles a container from decoded QR texts given in any order: duplicates are ignored,
 * texts that are not chunks are noted and skipped, chunks of more than one set are refused
 * (unless `setId`, a prefix of the wanted set's id, picks one), missing and damaged chunks are
 * named by number, and the result must match the set's SHA-256 byte for byte.
 */
export function assembleChunks(texts: readonly string[], options: { sha256: Sha256; setId?: string }): AssembledSet {
  const notes: string[] = [];
  const unique = new Set(texts);
  if (texts.length > unique.size) notes.push(`${texts.length - unique.size} duplicate code(s) ignored`);
  const parsed: ParsedChunk[] = [];
  const unknown = new Set<string>();
  let foreign = 0;
  for (const raw of unique) {
    const t = raw.trim();
    const c = parseChunk(t);
    if (c !== undefined) parsed.push(c);
    else if (/^APPL[0-9]+ /.test(t) && !t.startsWith(`${CHUNK_MAGIC} `)) unknown.add(t.slice(0, t.indexOf(' ')));
    else foreign++;
  }
  if (foreign > 0) notes.push(`${foreign} code(s) that are not readable recovery chunks were ignored`);
  if (parsed.length === 0 && unknown.size > 0)
    throw new AgentError('ChunkFormatUnsupported', `unknown code format: ${[...unknown].join(', ')}`, {
      terminal: true,
    });
  if (unknown.size > 0) notes.push(`codes of unknown formats were ignored: ${[...unknown].join(', ')}`);
  // A misread can damage the set id too: sets are chosen among intact chunks when there are any.
  const intactAll = parsed.filter((c) => c.intact);
  const setId = pickSet(intactAll.length > 0 ? intactAll : parsed, options.setId, notes);
  const strays = parsed.filter((c) => !c.intact && c.setId !== setId).length;
  if (strays > 0) notes.push(`${strays} damaged code(s) of no known set were ignored`);
  const mine = parsed.filter((c) => c.setId === setId);
  const intact = mine.filter((c) => c.intact);
  const total = agreedTotal(intact.length > 0 ? intact : mine);
  const byIndex = new Map<number, ParsedChunk>();
  for (const c of intact) {
    const seen = byIndex.get(c.index);
    if (seen !== undefined && seen.payload !== c.payload)
      throw new AgentError('ChunkConflict', `two different codes claim to be chunk ${c.index} of ${total}`, {
        terminal: true,
        data: { setId, index: c.index },
      });
    byIndex.set(c.index, c);
  }
  const damaged = new Set(mine.filter((c) => !c.intact && c.total === total).map((c) => c.index));
  for (const i of damaged)
    if (byIndex.has(i)) notes.push(`a damaged copy of chunk ${i} was ignored (a good copy exists)`);
  const corrupt = [...damaged].filter((i) => !byIndex.has(i)).sort((a, b) => a - b);
  const missing = range(1, total).filter((i) => !byIndex.has(i) && !damaged.has(i));
  if (missing.length > 0 || corrupt.length > 0) throw incomplete(setId, total, missing, corrupt);
  let payload = '';
  for (const i of range(1, total)) payload += byIndex.get(i)?.payload ?? '';
  const container = base32Decode(payload);
  if (toHex(options.sha256(container)) !== setId)
    throw new AgentError('ChunkChecksumMismatch', `the reassembled data does not match the set's SHA-256 ${setId}`, {
      terminal: true,
      data: { setId },
    });
  return { container, setId, total, notes };
}

function pickSet(parsed: readonly ParsedChunk[], wanted: string | undefined, notes: string[]): string {
  const counts = new Map<string, number>();
  for (const c of parsed) counts.set(c.setId, (counts.get(c.setId) ?? 0) + 1);
  const sets = [...counts.keys()];
  const candidates = wanted === undefined ? sets : sets.filter((s) => s.startsWith(wanted.toUpperCase()));
  const describe = (s: string): string => `${s.slice(0, 16)} (${counts.get(s) ?? 0} codes)`;
  if (candidates.length === 0)
    throw new AgentError(
      'ChunksNotFound',
      wanted === undefined
        ? 'no appliance recovery codes were found'
        : `no codes of set ${wanted} were found (sets seen: ${sets.map(describe).join(', ') || 'none'})`,
      { terminal: true, data: { sets } },
    );
  if (candidates.length > 1)
    throw new AgentError(
      'ChunkSetsMixed',
      `codes of ${candidates.length} different sets were given: ${candidates.map(describe).join(', ')}; ` +
        'scan one set only or choose one by its id',
      { terminal: true, data: { sets: candidates } },
    );
  const [setId = ''] = candidates;
  const others = parsed.length - (counts.get(setId) ?? 0);
  if (others > 0) notes.push(`${others} code(s) of other sets were ignored`);
  return setId;
}

/** The set's chunk count: intact chunks must agree; with none intact, the most common claim. */
function agreedTotal(chunks: readonly ParsedChunk[]): number {
  const counts = new Map<number, number>();
  for (const c of chunks) counts.set(c.total, (counts.get(c.total) ?? 0) + 1);
  if (counts.size > 1 && chunks.every((c) => c.intact))
    throw new AgentError(
      'ChunkConflict',
      `codes of one set disagree on the number of chunks (${[...counts.keys()].join(', ')})`,
      {
        terminal: true,
      },
    );
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
}

function incomplete(setId: string, total: number, missing: number[], corrupt: number[]): AgentError {
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing chunk${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${total}`);
  if (corrupt.length > 0)
    parts.push(
      `chunk${corrupt.length > 1 ? 's' : ''} ${corrupt.join(', ')} of ${total} ${corrupt.length > 1 ? 'are' : 'is'} ` +
        'damaged (checksum mismatch): scan again',
    );
  return new AgentError(missing.length > 0 ? 'ChunksMissing' : 'ChunkCorrupt', parts.join('; '), {
    terminal: true,
    data: { setId, total, missing, corrupt },
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, k) => from + k);
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with `=` padding. */
export function base32Encode(data: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out += B32.charAt((value << (5 - bits)) & 31);
  return out.padEnd(Math.ceil(out.length / 8) * 8, '=');
}

/** Decodes RFC 4648 base32 (upper case; padding optional, only at the end). */
export function base32Decode(text: string): Uint8Array {
  const body = text.replace(/=+$/, '');
  if (![0, 2, 4, 5, 7].includes(body.length % 8))
    throw new AgentError('Base32Invalid', `base32 text has an impossible length (${body.length})`, { terminal: true });
  const out = new Uint8Array(Math.floor((body.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let k = 0;
  for (const ch of body) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new AgentError('Base32Invalid', `'${ch}' is not a base32 character`, { terminal: true });
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[k++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3 polynomial, as used by gzip and zlib). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Lower-case hex is for people; the chunk format uses upper case (QR alphanumeric mode). */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s.toUpperCase();
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0').toUpperCase();
}

function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}
