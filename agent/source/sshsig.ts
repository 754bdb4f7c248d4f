import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * OpenSSH signatures as git makes them with `gpg.format=ssh` (PROTOCOL.sshsig): an armored
 * blob "SSHSIG" ‖ version ‖ public key ‖ namespace ‖ reserved ‖ hash algorithm ‖ signature,
 * over "SSHSIG" ‖ namespace ‖ reserved ‖ hash algorithm ‖ H(message). Verified with node:crypto
 * for ssh-ed25519, ecdsa-sha2-nistp256/384/521 and RSA with rsa-sha2-256/512.
 */

/** A parsed SSH public key. */
export interface SshPublicKey {
  type: string;
  /** The key in SSH wire format (what `AAAA…` base64-encodes). */
  blob: Buffer;
  /** `SHA256:…` as `ssh-keygen -l` prints it. */
  fingerprint: string;
  key: KeyObject;
}

/** A parsed sshsig blob. */
export interface SshSignature {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: string;
  signatureAlgorithm: string;
  signature: Buffer;
  reserved: Buffer;
}

const MAGIC = Buffer.from('SSHSIG');
const CURVES: Record<string, { crv: string; hash: string; size: number }> = {
  nistp256: { crv: 'P-256', hash: 'sha256', size: 32 },
  nistp384: { crv: 'P-384', hash: 'sha384', size: 48 },
  nistp521: { crv: 'P-521', hash: 'sha512', size: 66 },
};

/** Thrown for malformed input; callers turn it into their own error. */
export class SshFormatError extends Error {}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  uint32(): number {
    if (this.at + 4 > this.buf.length) throw new SshFormatError('truncated');
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new SshFormatError('truncated');
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  string(): Buffer {
    return this.bytes(this.uint32());
  }
  text(): string {
    return this.string().toString('latin1');
  }
  done(): boolean {
    return this.at === this.buf.length;
  }
}

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

function unsigned(mpint: Buffer): Buffer {
  let i = 0;
  while (i < mpint.length - 1 && mpint[i] === 0) i++;
  return mpint.subarray(i);
}

/** Parses a public key blob in SSH wire format. */
export function parseSshPublicKeyBlob(blob: Buffer): SshPublicKey {
  const r = new Reader(blob);
  const type = r.text();
  let key: KeyObject;
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    if (pk.length !== 32) throw new SshFormatError('bad ed25519 key length');
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' });
  } else if (type.startsWith('ecdsa-sha2-')) {
    const curve = CURVES[r.text()];
    const q = r.string();
    if (curve === undefined || type !== `ecdsa-sha2-${Object.keys(CURVES).find((k) => CURVES[k] === curve) ?? ''}`) {
      throw new SshFormatError(`unsupported ECDSA curve in ${type}`);
    }
    if (q.length !== 1 + 2 * curve.size || q[0] !== 4) throw new SshFormatError('bad ECDSA point');
    const x = q.subarray(1, 1 + curve.size);
    const y = q.subarray(1 + curve.size);
    key = createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: b64url(x), y: b64url(y) }, format: 'jwk' });
  } else if (type === 'ssh-rsa') {
    const e = unsigned(r.string());
    const n = unsigned(r.string());
    if (n.length * 8 < 2048) throw new SshFormatError('RSA keys under 2048 bits are refused');
    key = createPublicKey({ key: { kty: 'RSA', e: b64url(e), n: b64url(n) }, format: 'jwk' });
  } else {
    throw new SshFormatError(`unsupported SSH key type ${type}`);
  }
  if (!r.done()) throw new SshFormatError('trailing bytes after public key');
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { type, blob: Buffer.from(blob), fingerprint, key };
}

/** Parses an `authorized_keys`-style line: `ssh-ed25519 AAAA… [comment]`. */
export function parseSshPublicKey(line: string): SshPublicKey {
  const [type, data] = line.trim().split(/\s+/);
  if (type === undefined || data === undefined) throw new SshFormatError('expected "<type> <base64> [comment]"');
  const parsed = parseSshPublicKeyBlob(Buffer.from(data, 'base64'));
  if (parsed.type !== type) throw new SshFormatError(`key says ${parsed.type}, line says ${type}`);
  return parsed;
}

/** Parses an armored `-----BEGIN SSH SIGNATURE-----` block. */
export function parseSshSignature(armored: string): SshSignature {
  const m = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/.exec(armored);
  if (m?.[1] === undefined) throw new SshFormatError('no SSH SIGNATURE armor');
  const r = new Reader(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  if (!r.bytes(6).equals(MAGIC)) throw new SshFormatError('bad magic');
  const version = r.uint32();
  if (version !== 1) throw new SshFormatError(`unsupported sshsig version ${version}`);
  const publicKey = parseSshPublicKeyBlob(r.string());
  const namespace = r.text();
  const reserved = r.string();
  const hashAlgorithm = r.text();
  const sig = new Reader(r.string());
  const signatureAlgorithm = sig.text();
  const signature = sig.string();
  if (!r.done()) throw new SshFormatError('trailing bytes after signature');
  return { publicKey, namespace, hashAlgorithm, signatureAlgorithm, signature: Buffer.from(signature), reserved };
}

/**
 * Verifies `sig` over `message` for `namespace`. Returns a reason when it does not verify,
 * undefined when it does.
 */
export function verifySshSignature(sig: SshSignature, message: Uint8Array, namespace: string): string | undefined {
  if (sig.namespace !== namespace) return `namespace is "${sig.namespace}", expected "${namespace}"`;
  if (sig.hashAlgorithm !== 'sha512' && sig.hashAlgorithm !== 'sha256') {
    return `unsupported hash algorithm ${sig.hashAlgorithm}`;
  }
  const digest = createHash(sig.hashAlgorithm).update(message).digest();
  const signed = Buffer.concat([
    MAGIC,
    sshString(sig.namespace),
    sshString(sig.reserved),
    sshString(sig.hashAlgorithm),
    sshString(digest),
  ]);
  const { type, key } = sig.publicKey;
  try {
    if (type === 'ssh-ed25519') {
      if (sig.signatureAlgorithm !== 'ssh-ed25519')
        return `signature algorithm ${sig.signatureAlgorithm} does not fit the key`;
      return verify(null, signed, key, sig.signature) ? undefined : 'signature does not match';
    }
    if (type.startsWith('ecdsa-sha2-')) {
      if (sig.signatureAlgorithm !== type) return `signature algorithm ${sig.signatureAlgorithm} does not fit the key`;
      const curve = CURVES[type.slice('ecdsa-sha2-'.length)];
      if (curve === undefined) return `unsupported curve in ${type}`;
      const rs = new Reader(sig.signature);
      const raw = Buffer.concat([pad(unsigned(rs.string()), curve.size), pad(unsigned(rs.string()), curve.size)]);
      return verify(curve.hash, signed, { key, dsaEncoding: 'ieee-p1363' }, raw)
        ? undefined
        : 'signature does not match';
    }
    if (type === 'ssh-rsa') {
      const hash = { 'rsa-sha2-512': 'sha512', 'rsa-sha2-256': 'sha256' }[sig.signatureAlgorithm];
      if (hash === undefined) return `signature algorithm ${sig.signatureAlgorithm} is refused (SHA-1)`;
      return verify(hash, signed, key, sig.signature) ? undefined : 'signature does not match';
    }
  } catch (err) {
    return `signature is malformed: ${err instanceof Error ? err.message : String(err)}`;
  }
  return `unsupported key type ${type}`;
}

function pad(buf: Buffer, size: number): Buffer {
  if (buf.length > size) throw new SshFormatError('ECDSA integer too long');
  return Buffer.concat([Buffer.alloc(size - buf.length), buf]);
}
