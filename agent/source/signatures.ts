import type * as OpenPgp from 'openpgp';
import { AgentError, describeError } from '../core/errors.ts';
import { parseSshPublicKey, parseSshSignature, verifySshSignature, type SshPublicKey } from './sshsig.ts';

/** A key allowed to sign the commits the agent applies (from the bootstrap config). */
export interface TrustedSigner {
  /** Shown in logs and status: who signed the applied commit. */
  name: string;
  /** An armored OpenPGP public key (`gpg --armor --export`). */
  openpgp?: string;
  /** An SSH public key line: `ssh-ed25519 AAAA… comment`. */
  ssh?: string;
}

/** Who signed an accepted commit. */
export interface VerifiedSignature {
  signer: string;
  kind: 'openpgp' | 'ssh';
  /** OpenPGP fingerprint of the signing (sub)key's primary key, or the SSH `SHA256:` fingerprint. */
  key: string;
}

/**
 * Splits a raw commit object (the bytes git hashes, without the "commit <len>\0" header) into
 * the signed payload — the object without its `gpgsig`/`gpgsig-sha256` headers, byte for byte
 * as git verifies it — and the `gpgsig` signature. Works on bytes, so non-UTF-8 commits and SSH
 * signatures (which isomorphic-git's `payload` mangles) come out exact.
 */
export function splitSignedCommit(raw: Uint8Array): { payload: Buffer; signature: string | undefined } {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  const end = text.indexOf('\n\n');
  const head = end === -1 ? text : text.slice(0, end + 1);
  const body = end === -1 ? '' : text.slice(end + 1);
  const kept: string[] = [];
  const signature: string[] = [];
  let signatures = 0;
  let inSignature = false;
  let collect = false;
  for (const line of head.split('\n').slice(0, -1)) {
    if (inSignature && line.startsWith(' ')) {
      if (collect) signature.push(line.slice(1));
      continue;
    }
    inSignature = false;
    const header = /^(gpgsig|gpgsig-sha256) /.exec(line)?.[1];
    if (header !== undefined) {
      inSignature = true;
      collect = header === 'gpgsig';
      if (collect) {
        signatures += 1;
        signature.push(line.slice('gpgsig '.length));
      }
      continue;
    }
    kept.push(line);
  }
  const payload = Buffer.from(kept.map((l) => `${l}\n`).join('') + body, 'latin1');
  // Two gpgsig headers is not something git writes: treat it as no usable signature.
  return { payload, signature: signatures === 1 ? `${signature.join('\n')}\n` : undefined };
}

/** openpgp.js is large: loaded only when an OpenPGP key or signature is met. */
function openpgp(): Promise<typeof OpenPgp> {
  return import('openpgp');
}

interface ParsedSigner {
  name: string;
  pgp: OpenPgp.PublicKey | undefined;
  ssh: SshPublicKey | undefined;
}

/**
 * Checks that a commit is signed by one of the trusted signers. Build with
 * {@link SignatureVerifier.create}; an empty list trusts nobody (every commit is refused).
 */
export class SignatureVerifier {
  private constructor(private readonly signers: readonly ParsedSigner[]) {}

  /** Parses the trusted keys; a bad key is an `InvalidTrustedSigner` config error. */
  static async create(signers: readonly TrustedSigner[]): Promise<SignatureVerifier> {
    const parsed: ParsedSigner[] = [];
    for (const s of signers) {
      if (s.openpgp === undefined && s.ssh === undefined)
        throw badSigner(s.name, 'has neither an openpgp nor an ssh key');
      let pgp: OpenPgp.PublicKey | undefined;
      let ssh: SshPublicKey | undefined;
      if (s.openpgp !== undefined) {
        let key: OpenPgp.Key;
        try {
          key = await (await openpgp()).readKey({ armoredKey: s.openpgp });
        } catch (err) {
          throw badSigner(s.name, `has an unreadable OpenPGP key: ${describeError(err)}`);
        }
        if (key.isPrivate()) throw badSigner(s.name, 'has a private OpenPGP key; give the public key');
        pgp = key.toPublic();
      }
      if (s.ssh !== undefined) {
        try {
          ssh = parseSshPublicKey(s.ssh);
        } catch (err) {
          throw badSigner(s.name, `has an unreadable SSH key: ${describeError(err)}`);
        }
      }
      parsed.push({ name: s.name, pgp, ssh });
    }
    return new SignatureVerifier(parsed);
  }

  /**
   * Verifies the raw commit object `raw` of `commit`. Throws `UnsignedCommit`, `UntrustedSigner`
   * (signed, but not by a trusted key) or `BadSignature` (a trusted key, but the signature does
   * not match the content), all terminal with data `{ commit, reason }`.
   */
  async verify(commit: string, raw: Uint8Array): Promise<VerifiedSignature> {
    const { payload, signature } = splitSignedCommit(raw);
    if (signature === undefined) throw refuse('UnsignedCommit', commit, 'the commit has no signature');
    if (signature.includes('-----BEGIN SSH SIGNATURE-----')) return this.verifySsh(commit, payload, signature);
    if (signature.includes('-----BEGIN PGP SIGNATURE-----')) return this.verifyPgp(commit, payload, signature);
    throw refuse('UntrustedSigner', commit, 'the signature format is not supported (only OpenPGP and SSH)');
  }

  private verifySsh(commit: string, payload: Buffer, armored: string): VerifiedSignature {
    let sig;
    try {
      sig = parseSshSignature(armored);
    } catch (err) {
      throw refuse('BadSignature', commit, `unreadable SSH signature: ${describeError(err)}`);
    }
    const fingerprint = sig.publicKey.fingerprint;
    const signer = this.signers.find((s) => s.ssh?.blob.equals(sig.publicKey.blob) === true);
    if (signer === undefined) throw refuse('UntrustedSigner', commit, `SSH key ${fingerprint} is not trusted`);
    const problem = verifySshSignature(sig, payload, 'git');
    if (problem !== undefined) throw refuse('BadSignature', commit, `SSH signature by ${signer.name}: ${problem}`);
    return { signer: signer.name, kind: 'ssh', key: fingerprint };
  }

  private async verifyPgp(commit: string, payload: Buffer, armored: string): Promise<VerifiedSignature> {
    let signature: OpenPgp.Signature;
    try {
      signature = await (await openpgp()).readSignature({ armoredSignature: armored });
    } catch (err) {
      throw refuse('BadSignature', commit, `unreadable OpenPGP signature: ${describeError(err)}`);
    }
    // openpgp.js verifies every packet but a caller learns little of which one held: one packet only.
    if (signature.packets.length !== 1) {
      throw refuse(
        'BadSignature',
        commit,
        `the OpenPGP signature holds ${signature.packets.length} signature packets; exactly one is accepted`,
      );
    }
    const ids = signature.getSigningKeyIDs();
    const candidates = this.signers.filter((s) => s.pgp !== undefined && ids.some((id) => s.pgp?.getKeys(id).length));
    if (candidates.length === 0) {
      const shown = ids.map((id) => id.toHex().toUpperCase()).join(', ') || 'unknown';
      throw refuse('UntrustedSigner', commit, `OpenPGP key ${shown} is not trusted`);
    }
    const verificationKeys = candidates.flatMap((c) => (c.pgp === undefined ? [] : [c.pgp]));
    try {
      const pgp = await openpgp();
      const message = await pgp.createMessage({ binary: new Uint8Array(payload) });
      const result = await pgp.verify({ message, signature, verificationKeys, expectSigned: true });
      const [only] = result.signatures;
      if (only === undefined) throw new Error('no signature was verified');
      await only.verified;
      const signer = candidates.find((c) => c.pgp?.getKeys(only.keyID).length);
      if (signer?.pgp === undefined) throw new Error(`key ${only.keyID.toHex()} verified but is not trusted`);
      return { signer: signer.name, kind: 'openpgp', key: signer.pgp.getFingerprint().toUpperCase() };
    } catch (err) {
      const names = candidates.map((c) => c.name).join(', ');
      throw refuse('BadSignature', commit, `OpenPGP signature by ${names}: ${describeError(err)}`);
    }
  }
}

function refuse(
  code: 'UnsignedCommit' | 'UntrustedSigner' | 'BadSignature',
  commit: string,
  reason: string,
): AgentError {
  const what = {
    UnsignedCommit: 'is not signed',
    UntrustedSigner: 'is not signed by a trusted key',
    BadSignature: 'has a bad signature',
  }[code];
  return new AgentError(code, `commit ${commit} ${what}: ${reason}`, { terminal: true, data: { commit, reason } });
}

function badSigner(name: string, why: string): AgentError {
  return new AgentError('InvalidTrustedSigner', `trusted signer "${name}" ${why}`, {
    terminal: true,
    data: { signer: name },
  });
}
