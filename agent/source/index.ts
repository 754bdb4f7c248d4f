/**
 * The config repository: fetch over smart HTTP, signature and rewind checks, revision tracking,
 * and reads of the accepted revision straight from the git object store.
 */
export {
  GitSource,
  type GitSourceDeps,
  type GitSourceOptions,
  type SyncResult,
  type CurrentRevision,
} from './git-source.ts';
export { gitTreeReader, type GitTreeReaderOptions, type GitFs } from './tree-reader.ts';
export { loadCredentials, parseCredentials, TOKEN_USERNAME, type GitCredentials } from './credentials.ts';
export { parseSourceUrl, type ParsedSourceUrl } from './remote.ts';
export { SignatureVerifier, splitSignedCommit, type TrustedSigner, type VerifiedSignature } from './signatures.ts';
export { openSource, type OpenedSource } from './local-source.ts';
export type { AcceptedState } from './accepted-state.ts';
