/**
 * The config repository: fetch over smart HTTP, signature and rewind checks, revision tracking,
 * immutable checkouts, and safe reads of repo files.
 */
export {
  GitSource,
  type GitSourceDeps,
  type GitSourceOptions,
  type SyncResult,
  type CurrentRevision,
  type GitFs,
} from './git-source.ts';
export { loadCredentials, parseCredentials, TOKEN_USERNAME, type GitCredentials } from './credentials.ts';
export { parseSourceUrl, type ParsedSourceUrl } from './remote.ts';
export { SignatureVerifier, splitSignedCommit, type TrustedSigner, type VerifiedSignature } from './signatures.ts';
export {
  resolveInside,
  readRepoFile,
  readRepoFileBytes,
  DEFAULT_MAX_FILE_BYTES,
  type ReadRepoFileOptions,
} from './repo-files.ts';
export { openSource, type OpenedSource } from './local-source.ts';
export type { AcceptedState } from './checkouts.ts';
