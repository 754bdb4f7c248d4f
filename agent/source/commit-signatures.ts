import { storeCorrupt } from './local-stores.ts';
import { SignatureVerifier, type TrustedSigner, type VerifiedSignature } from './signatures.ts';

/**
 * The trust rules of a branch applied to commits: with signers given (even none), a commit must
 * be signed by one of them. The verifier is made once; a failed making is tried again next time.
 */
export class CommitSignatures {
  private verifier: Promise<SignatureVerifier> | undefined;

  constructor(
    private readonly signers: readonly TrustedSigner[] | undefined,
    /** The repo's URL, for errors. */
    private readonly url: string,
  ) {}

  /**
   * The signer of `commit`, or undefined when the branch takes unsigned commits. `raw` reads the
   * commit object's bytes. Throws UnsignedCommit, UntrustedSigner or BadSignature.
   */
  async check(commit: string, raw: () => Promise<unknown>): Promise<VerifiedSignature | undefined> {
    if (this.signers === undefined) return undefined;
    this.verifier ??= SignatureVerifier.create(this.signers);
    const verifier = await this.verifier.catch((err: unknown) => {
      this.verifier = undefined;
      throw err;
    });
    const object = await raw();
    if (!(object instanceof Uint8Array))
      throw storeCorrupt(this.url, 'read', new Error('commit object is not raw bytes'));
    return verifier.verify(commit, object);
  }
}
