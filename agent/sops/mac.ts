import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { plaintextOf } from './value-cipher.ts';
import type { Leaf } from './tree.ts';

// sha256("sops"): seeds the hash when mac_only_encrypted is set (sops.go MACOnlyEncryptedInitialization).
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex');

/**
 * sops' MAC: SHA-512 over the `ToBytes` of every non-null, non-comment leaf in document order
 * (only encrypted leaves when `macOnlyEncrypted`), as 128 uppercase hex digits. Keys are not
 * hashed: only the AAD of encrypted values binds them.
 */
export class MacHasher {
  private readonly hash: Hash = createHash('sha512');

  constructor(private readonly macOnlyEncrypted: boolean) {
    if (macOnlyEncrypted) this.hash.update(MAC_ONLY_ENCRYPTED_INIT);
  }

  add(value: Leaf, encrypted: boolean): void {
    if (this.macOnlyEncrypted && !encrypted) return;
    this.hash.update(plaintextOf(value).bytes);
  }

  hex(): string {
    return this.hash.digest('hex').toUpperCase();
  }
}

/** Constant-time comparison of two MAC strings. */
export function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The MAC's AAD: `lastmodified` as Go re-formats it after `time.Parse(RFC3339)` — fractional
 * seconds dropped, `+00:00` written as `Z`. Undefined if it is not RFC 3339.
 */
export function goRfc3339(s: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const [, date = '', time = '', zone = ''] = m;
  return `${date}T${time}${/^([Zz]|[+-]00:00)$/.test(zone) ? 'Z' : zone}`;
}
