import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { AgentError } from '../core/errors.ts';
import { packTar, unpackTar, type NamedFile } from './tar.ts';

/** Decompressed recovery data larger than this is refused (a damaged or hostile scan). */
export const MAX_CONTAINER_BYTES = 64 * 1024 * 1024;

/** SHA-256 of `data`; the digest the chunk format is built on. */
export function sha256(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}

/** Lower-case hex SHA-256, as `sha256sum` prints it. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The bytes that are split into QR chunks: a gzip-compressed ustar archive of the files, so
 * `base32 -d | tar -xz` gets them back without this tool. `createdAt` becomes the files' mtime.
 */
export function packContainer(files: readonly NamedFile[], createdAt: Date): Uint8Array {
  if (files.length === 0) throw new AgentError('RecoveryFilesEmpty', 'no files to store', { terminal: true });
  return gzipSync(packTar(files, createdAt.getTime() / 1000), { level: 9 });
}

/** Opens a container: gunzip (size-capped) and read the archive. */
export function unpackContainer(container: Uint8Array): NamedFile[] {
  let archive: Uint8Array;
  try {
    archive = gunzipSync(container, { maxOutputLength: MAX_CONTAINER_BYTES });
  } catch (err) {
    throw new AgentError('ArchiveInvalid', 'the recovered data is not a readable gzip stream (or is too large)', {
      terminal: true,
      cause: err,
    });
  }
  return unpackTar(archive);
}
