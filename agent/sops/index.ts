/**
 * SOPS with age: decrypt (MAC verified, fail closed) and encrypt YAML/JSON files the real
 * `sops` reads, in the layout of sops 3.10.
 */
export {
  decryptSops,
  decryptSopsToText,
  encryptSops,
  updateSops,
  rotateSops,
  formatForFile,
  DEFAULT_MAX_BYTES,
  type DecryptOptions,
  type EncryptOptions,
  type SopsFileInfo,
} from './sops.ts';
export { loadIdentities, identityToRecipient, resolveIdentityFile, generateIdentity } from './age-keys.ts';
export type { EncryptionRule } from './rules.ts';
export type { Format } from './parse.ts';
export type { SopsErrorCode } from './errors.ts';
export { SOPS_VERSION } from './metadata.ts';
