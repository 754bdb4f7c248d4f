import { open, realpath } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep, basename } from 'node:path';
import { AgentError } from '../core/errors.ts';

/** Default cap for files read from the config repo. */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/**
 * Resolves the repo-relative path `rel` under the checkout `root` and returns its real path.
 * Refused with `PathEscape` (terminal: the commit must change): absolute paths, any `..`
 * segment, NUL bytes, and paths whose real location — after following every symlink, of the
 * file or of a parent directory — is outside the real `root`. A path that does not exist yet
 * is checked through its nearest existing parent.
 */
export async function resolveInside(root: string, rel: string): Promise<string> {
  if (rel === '' || rel.includes('\0') || isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) {
    throw escape(rel, 'must be a relative path without ".."');
  }
  const realRoot = await realpath(root);
  const target = join(realRoot, rel);
  const real = await realpathOfExisting(target);
  const inside = relative(realRoot, real);
  if (inside !== '' && (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside))) {
    throw escape(rel, 'leads outside the repository');
  }
  return real;
}

async function realpathOfExisting(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    const parent = dirname(path);
    if (parent === path) return path;
    // A dangling symlink also lands here: its target is checked once it exists.
    return join(await realpathOfExisting(parent), basename(path));
  }
}

function escape(rel: string, why: string): AgentError {
  return new AgentError('PathEscape', `path ${JSON.stringify(rel)} ${why}`, { terminal: true, data: { path: rel } });
}

/** Options for {@link readRepoFile}. */
export interface ReadRepoFileOptions {
  /** Largest accepted size in bytes (default {@link DEFAULT_MAX_FILE_BYTES}). */
  maxBytes?: number;
}

/**
 * Reads a file of the checkout `root` as bytes, after {@link resolveInside}. Throws `FileTooLarge`
 * above `maxBytes`, `FileNotFound` when it does not exist, `NotAFile` for directories and other
 * non-regular files (all terminal: only a new commit fixes them).
 */
export async function readRepoFileBytes(root: string, rel: string, options: ReadRepoFileOptions = {}): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  const path = await resolveInside(root, rel);
  let handle;
  try {
    // The real path has no symlinks left; O_NOFOLLOW makes a swap after the check fail, not follow.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AgentError('FileNotFound', `${rel} does not exist in the repository`, {
        terminal: true,
        data: { path: rel },
      });
    }
    if (code === 'ELOOP') throw escape(rel, 'changed into a symlink while being read');
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new AgentError('NotAFile', `${rel} is not a regular file`, { terminal: true, data: { path: rel } });
    }
    if (stat.size > maxBytes) throw tooLarge(rel, stat.size, maxBytes);
    // Read one byte past the cap so a file that grew after fstat is still refused.
    const buf = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.length) break;
    }
    if (length > maxBytes) throw tooLarge(rel, length, maxBytes);
    return buf.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** Like {@link readRepoFileBytes}, decoded as UTF-8. */
export async function readRepoFile(root: string, rel: string, options: ReadRepoFileOptions = {}): Promise<string> {
  return (await readRepoFileBytes(root, rel, options)).toString('utf8');
}

function tooLarge(rel: string, size: number, maxBytes: number): AgentError {
  return new AgentError('FileTooLarge', `${rel} is ${size} bytes, more than the ${maxBytes} allowed`, {
    terminal: true,
    data: { path: rel, size, maxBytes },
  });
}
