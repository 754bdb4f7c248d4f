import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { goFormatFloat } from './go-yaml.ts';
import type { Comment, Leaf } from './tree.ts';

/** The `type:` of an `ENC[...]` value. */
export type EncType = 'str' | 'int' | 'float' | 'bool' | 'comment' | 'bytes' | 'time';

// sops' own pattern (aes/cipher.go); no `$` anchor, like Go.
const ENC_RE = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const IV_BYTES = 32;
const TAG_BYTES = 16;

/** A problem with one encrypted value; the message never contains the value. */
export class ValueError extends Error {}

/** True when `s` has the shape of an `ENC[AES256_GCM,...]` value (not a proof it decrypts). */
export function isEncValue(s: string): boolean {
  return ENC_RE.test(s);
}

/** The bytes sops encrypts (and hashes into the MAC) for a value: Go's `ToBytes`. */
export function plaintextOf(value: Leaf | Comment): { type: EncType; bytes: Buffer } {
  switch (value.kind) {
    case 'str':
      return { type: 'str', bytes: Buffer.from(value.value, 'utf8') };
    case 'comment':
      return { type: 'comment', bytes: Buffer.from(value.text, 'utf8') };
    case 'int':
      return { type: 'int', bytes: Buffer.from(value.value.toString(), 'utf8') };
    case 'float':
      return { type: 'float', bytes: Buffer.from(goFormatFloat(value.value), 'utf8') };
    case 'bool':
      return { type: 'bool', bytes: Buffer.from(value.value ? 'True' : 'False', 'utf8') };
  }
}

/**
 * AES-256-GCM with a 32-byte IV and `aad`, written as sops writes it. An empty plaintext is
 * not encrypted (sops `isEmpty`). Pass `iv` only to reproduce a value that had exactly this
 * plaintext and AAD before (sops' IV stash); never reuse an IV for anything else.
 */
export function encryptValue(type: EncType, plain: Buffer, key: Uint8Array, aad: string, iv?: Buffer): string {
  if (plain.length === 0 && (type === 'str' || type === 'comment')) return '';
  const nonce = iv ?? randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${nonce.toString('base64')},tag:${tag.toString('base64')},type:${type}]`;
}

/** Decrypts an ENC value; throws ValueError if it is malformed or fails authentication. */
export function decryptValue(s: string, key: Uint8Array, aad: string): { type: EncType; plain: Buffer; iv: Buffer } {
  const m = ENC_RE.exec(s);
  if (!m) throw new ValueError('not an ENC[AES256_GCM,...] value');
  const [data, iv, tag] = [m[1], m[2], m[3]].map((part) => decodeBase64(part ?? ''));
  const type = m[4] ?? '';
  if (!data || !iv || !tag || iv.length === 0 || tag.length !== TAG_BYTES)
    throw new ValueError('malformed ENC value (bad base64, iv or tag)');
  if (!isEncType(type)) throw new ValueError(`unknown ENC value type "${type.slice(0, 20)}"`);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new ValueError('authentication failed (wrong key, moved or renamed key, or tampered value)');
  }
  return { type, plain, iv };
}

/** Turns decrypted bytes back into a typed value the way sops' cipher does. */
export function fromPlaintext(type: EncType, plain: Buffer): Leaf | Comment {
  const text = plain.toString('utf8');
  switch (type) {
    case 'str':
    case 'bytes':
    case 'time':
      return { kind: 'str', value: text };
    case 'comment':
      return { kind: 'comment', text };
    case 'int': {
      // strconv.Atoi: optional sign, decimal digits, int64.
      if (!/^[-+]?[0-9]+$/.test(text)) throw new ValueError('decrypted int is malformed');
      const value = BigInt(text);
      if (value < -(2n ** 63n) || value >= 2n ** 63n) throw new ValueError('decrypted int is out of range');
      return { kind: 'int', value };
    }
    case 'float': {
      const special = /^([-+]?)(inf|infinity|nan)$/i.exec(text);
      if (special) return { kind: 'float', value: /nan/i.test(text) ? NaN : special[1] === '-' ? -Infinity : Infinity };
      if (!/^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/.test(text))
        throw new ValueError('decrypted float is malformed');
      return { kind: 'float', value: Number(text) };
    }
    case 'bool':
      // strconv.ParseBool
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return { kind: 'bool', value: true };
      if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return { kind: 'bool', value: false };
      throw new ValueError('decrypted bool is malformed');
  }
}

function isEncType(s: string): s is EncType {
  return ['str', 'int', 'float', 'bool', 'comment', 'bytes', 'time'].includes(s);
}

function decodeBase64(s: string): Buffer | undefined {
  return BASE64_RE.test(s) ? Buffer.from(s, 'base64') : undefined;
}
