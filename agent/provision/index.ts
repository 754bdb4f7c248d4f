/**
 * Offline provisioning artifacts: the cloud-init NoCloud seed ISO and the printable QR
 * recovery sheet, with recovery from scans of it.
 */
export { buildSeedIso, SEED_VOLUME_ID, type BuildSeedIsoOptions, type SeedIsoFile } from './seed-iso.ts';
export {
  renderUserData,
  renderMetaData,
  BOOTSTRAP_PATH,
  AGE_IDENTITY_PATH,
  type UserDataOptions,
} from './user-data.ts';
export {
  buildRecoveryPdf,
  type BuildRecoveryPdfOptions,
  type RecoveryPdfResult,
  type ProgressFn,
} from './recovery-pdf.ts';
export { recipientFingerprint, manualRecipe, type RecoverySummary } from './recovery-text.ts';
export { recoverFromScan, readPng, type RecoverFromScanOptions, type RecoveredFiles } from './read-recovery-sheet.ts';
export { decodeQrCodes, type RgbaImage } from './qr-scan.ts';
export { packContainer, unpackContainer, sha256Hex } from './recovery-archive.ts';
export { FILE_NAME_RE, type NamedFile } from './tar.ts';
