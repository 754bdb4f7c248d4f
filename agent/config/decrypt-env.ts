import type { ConfigIssue } from '../core/result.ts';
import type { DecryptEnv } from './load.ts';
import { sopsError } from '../sops/errors.ts';
import { decryptSops, loadIdentities } from '../sops/index.ts';
import { unprotectedLeaves } from '../sops/unprotected.ts';

/**
 * A DecryptEnv that opens SOPS files with these age identities (MAC verified, size capped). The
 * MAC covers values, not structure: a value left in clear by the file's rule (its key could be
 * renamed) or an empty value (it could be added) is refused as `SopsUnprotectedValue`.
 */
export function decryptEnvWith(identities: readonly string[], options: { maxBytes?: number } = {}): DecryptEnv {
  return async (text, file) => {
    const { value, metadata } = await decryptSops(text, {
      file,
      identities,
      format: 'yaml',
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    });
    const { sops: _metadata, ...tree } = value;
    const [first, ...more] = unprotectedLeaves(tree, metadata.rule);
    if (first !== undefined) {
      const others = more.length === 0 ? '' : ` (and ${String(more.length)} more)`;
      throw sopsError('SopsUnprotectedValue', file, `${first.pointer} ${first.why}${others}`, {
        paths: [first, ...more].map((u) => u.pointer),
      });
    }
    return value;
  };
}

/** Reads an age identity file and returns a DecryptEnv for it, with the key file's warnings. */
export async function decryptEnvFromIdentityFile(
  path: string,
  options: { maxBytes?: number } = {},
): Promise<{ decrypt: DecryptEnv; warnings: ConfigIssue[] }> {
  const { identities, warnings } = await loadIdentities(path);
  return { decrypt: decryptEnvWith(identities, options), warnings };
}
