import { AgentError } from '../core/errors.ts';

/** Codes of the errors this module throws; all are terminal (a new file or key is needed). */
export type SopsErrorCode =
  | 'SopsMacMismatch'
  | 'SopsMacMissing'
  | 'SopsNoIdentity'
  | 'SopsAgeTampered'
  | 'SopsAgeMalformed'
  | 'SopsUnprotectedValue'
  | 'SopsUnsupportedKeys'
  | 'SopsShamirUnsupported'
  | 'SopsUnsupportedRule'
  | 'SopsBadMetadata'
  | 'SopsBadValue'
  | 'SopsBadRecipient'
  | 'SopsNotEncrypted'
  | 'SopsAlreadyEncrypted'
  | 'SopsParseError'
  | 'SopsUnsafeInteger'
  | 'SopsNonFiniteNumber'
  | 'SopsTooLarge'
  | 'SopsSelfCheckFailed'
  | 'AgeIdentityMissing'
  | 'AgeIdentityInvalid';

/**
 * A terminal AgentError whose message starts with the file name: `<file>: <problem>`.
 * `problem` and `data` must never contain a secret (no values, no keys).
 */
export function sopsError(
  code: SopsErrorCode,
  file: string,
  problem: string,
  data: Record<string, unknown> = {},
  cause?: unknown,
): AgentError {
  return new AgentError(code, `${file}: ${problem}`, {
    terminal: true,
    data: { file, ...data },
    ...(cause === undefined ? {} : { cause }),
  });
}
