import type { ConfigIssue } from '../core/result.ts';
import type { DecryptEnv } from './load.ts';
import { decryptSops, loadIdentities } from '../sops/index.ts';

/** A DecryptEnv that opens SOPS files with these age identities (MAC verified, size capped). */
export function decryptEnvWith(identities: readonly string[], options: { maxBytes?: number } = {}): DecryptEnv {
  return async (text, file) => {
    const { value } = await decryptSops(text, {
      file,
      identities,
      format: 'yaml',
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    });
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
