import {
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';

/**
 * Decryption of age files for X25519 identities (`AGE-SECRET-KEY-1…`) with node:crypto, as in
 * the age v1 spec (age-encryption.org/v1): the daemon opens a SOPS data key on every new
 * revision, and the age-encryption package would keep its post-quantum, P-256 and scrypt code
 * in memory for that. Other identity types go through age-encryption (see age-keys.ts).
 */

/** An X25519 identity decoded for decryption. */
export interface X25519Identity {
  privateKey: KeyObject;
  /** The recipient's public key (32 bytes): part of the wrap key's salt. */
  publicKey: Buffer;
}

/**
 * An age file that is not acceptable: `malformed` breaks the format rules, `tampered` failed
 * authentication after one of our identities opened its file key (header MAC, payload tags).
 */
export class AgeFileError extends Error {
  constructor(
    readonly kind: 'malformed' | 'tampered',
    message: string,
  ) {
    super(message);
    this.name = 'AgeFileError';
  }
}

const malformed = (why: string): AgeFileError => new AgeFileError('malformed', why);

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const CHUNK = 64 * 1024;
const TAG = 16;

/** The identity decoded, or undefined when the string is not a valid X25519 age identity. */
export function x25519Identity(identity: string): X25519Identity | undefined {
  const scalar = bech32Decode(identity, 'age-secret-key-');
  if (scalar?.length !== 32) return undefined;
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: spki.subarray(SPKI_X25519.length) };
}

/**
 * Decrypts an ASCII-armored age file with the first identity one of its X25519 stanzas is for.
 * Returns undefined when no stanza is for these identities; throws an {@link AgeFileError} when
 * the file is malformed or fails authentication (header MAC, payload tags).
 */
export function decryptArmoredX25519(armored: string, identities: readonly X25519Identity[]): Uint8Array | undefined {
  const file = armorDecode(armored);
  const { stanzas, headerNoMac, mac, payload } = parseHeader(file);
  let fileKey: Buffer | undefined;
  for (const s of stanzas) {
    if (s.args[0] !== 'X25519') continue;
    if (s.args.length !== 2 || s.body.length !== 32) throw malformed('malformed X25519 stanza');
    const share = base64NoPad(s.args[1] ?? '');
    if (share.length !== 32) throw malformed('malformed X25519 stanza');
    for (const id of identities) {
      fileKey = unwrap(id, share, s.body);
      if (fileKey !== undefined) break;
    }
    if (fileKey !== undefined) break;
  }
  if (fileKey === undefined) return undefined;
  const macKey = hkdf(fileKey, Buffer.alloc(0), 'header');
  const expected = createHmac('sha256', macKey).update(headerNoMac).digest();
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected))
    throw new AgeFileError('tampered', 'bad header MAC');
  if (payload.length < 16) throw new AgeFileError('tampered', 'payload too short');
  try {
    return decryptStream(hkdf(fileKey, payload.subarray(0, 16), 'payload'), payload.subarray(16));
  } catch (err) {
    throw new AgeFileError('tampered', `payload: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Strict ASCII armor: the BEGIN/END lines, 64-column base64 lines, the last one shorter. */
export function armorDecode(text: string): Buffer {
  const lines = text.trim().replaceAll('\r\n', '\n').split('\n');
  if (lines.shift() !== '-----BEGIN AGE ENCRYPTED FILE-----') throw malformed('invalid armor header');
  if (lines.pop() !== '-----END AGE ENCRYPTED FILE-----') throw malformed('invalid armor footer');
  const last = lines.length - 1;
  const okLength = (l: string, i: number): boolean =>
    i === last ? l.length > 0 && l.length <= 64 && l.length % 4 === 0 : l.length === 64;
  if (!lines.every((l, i) => okLength(l, i) && /^[A-Za-z0-9+/]+={0,2}$/.test(l))) throw malformed('invalid armor');
  const joined = lines.join('');
  const bytes = Buffer.from(joined, 'base64');
  if (bytes.toString('base64') !== joined) throw malformed('invalid armor base64');
  return bytes;
}

interface Stanza {
  args: string[];
  body: Buffer;
}

function parseHeader(file: Buffer): { stanzas: Stanza[]; headerNoMac: Buffer; mac: Buffer; payload: Buffer } {
  let pos = 0;
  const line = (): string => {
    const nl = file.indexOf(0x0a, pos);
    if (nl < 0) throw malformed('truncated header');
    const text = file.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    return text;
  };
  if (line() !== 'age-encryption.org/v1') throw malformed('not an age v1 file');
  const stanzas: Stanza[] = [];
  for (;;) {
    const start = pos;
    const first = line();
    if (first.startsWith('--- ')) {
      // The scrypt recipient is a passphrase: the spec allows it only as the file's sole stanza.
      if (stanzas.length > 1 && stanzas.some((s) => s.args[0] === 'scrypt'))
        throw malformed('an scrypt stanza must be the only stanza');
      const mac = base64NoPad(first.slice(4));
      return { stanzas, headerNoMac: file.subarray(0, start + 3), mac, payload: file.subarray(pos) };
    }
    const args = first.split(' ');
    if (args.shift() !== '->' || args.length === 0 || args.some((a) => a === '')) throw malformed('invalid stanza');
    // Arguments are non-empty strings of printable ASCII (the spec's VCHAR, 0x21-0x7e).
    if (args.some((a) => !/^[\x21-\x7e]+$/.test(a))) throw malformed('stanza argument outside printable ASCII');
    const body: Buffer[] = [];
    for (;;) {
      const chunk = base64NoPad(line());
      if (chunk.length > 48) throw malformed('invalid stanza body');
      body.push(chunk);
      if (chunk.length < 48) break;
    }
    stanzas.push({ args, body: Buffer.concat(body) });
  }
}

function unwrap(id: X25519Identity, share: Buffer, body: Buffer): Buffer | undefined {
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_X25519, share]), format: 'der', type: 'spki' });
  const shared = diffieHellman({ privateKey: id.privateKey, publicKey });
  if (shared.every((b) => b === 0)) throw malformed('X25519 share is a low-order point');
  const key = hkdf(shared, Buffer.concat([share, id.publicKey]), 'age-encryption.org/v1/X25519');
  try {
    return open(key, Buffer.alloc(12), body);
  } catch {
    // Not for this identity: the tag does not verify.
    return undefined;
  }
}

function decryptStream(key: Buffer, ciphertext: Buffer): Uint8Array {
  const out: Buffer[] = [];
  const nonce = Buffer.alloc(12);
  let counter = 0;
  for (let at = 0; ; counter++) {
    const last = ciphertext.length - at <= CHUNK + TAG;
    const chunk = ciphertext.subarray(at, last ? ciphertext.length : at + CHUNK + TAG);
    if (chunk.length < TAG) throw new Error('truncated payload');
    nonce.writeUIntBE(counter, 5, 6);
    nonce[11] = last ? 1 : 0;
    const plain = open(key, nonce, chunk);
    // Only the first chunk may be empty (an empty file); an empty last chunk is not canonical.
    if (last && plain.length === 0 && counter > 0) throw new Error('empty last chunk');
    out.push(plain);
    if (last) break;
    at += chunk.length;
  }
  const total = out.reduce((n, b) => n + b.length, 0);
  const result = new Uint8Array(total);
  let at = 0;
  for (const b of out) {
    result.set(b, at);
    at += b.length;
  }
  return result;
}

function open(key: Buffer, nonce: Buffer, sealed: Buffer): Buffer {
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
}

function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

function base64NoPad(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) throw malformed('invalid base64');
  const bytes = Buffer.from(text, 'base64');
  // Canonical only: unused trailing bits must be zero, as age requires.
  if (bytes.toString('base64').replace(/=+$/, '') !== text) throw malformed('non-canonical base64');
  return bytes;
}

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/** BIP 173 bech32 (one case throughout, checksum verified) with the given prefix; undefined if not. */
function bech32Decode(text: string, hrp: string): Buffer | undefined {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return undefined;
  const s = text.toLowerCase();
  const sep = s.lastIndexOf('1');
  if (sep < 1 || s.slice(0, sep) !== hrp || s.length - sep - 1 < 6) return undefined;
  const values: number[] = [];
  for (let i = sep + 1; i < s.length; i++) {
    const v = BECH32.indexOf(s.charAt(i));
    if (v < 0) return undefined;
    values.push(v);
  }
  const codes = Array.from({ length: hrp.length }, (_, i) => hrp.charCodeAt(i));
  const expanded = [...codes.map((c) => c >> 5), 0, ...codes.map((c) => c & 31)];
  if (polymod([...expanded, ...values]) !== 1) return undefined;
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  for (const v of values.slice(0, -6)) {
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  // Padding: fewer than 5 leftover bits, all zero.
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return undefined;
  return Buffer.from(out);
}

function polymod(values: readonly number[]): number {
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i] ?? 0;
  }
  return chk;
}
