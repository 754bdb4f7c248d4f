import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { AgentError } from '../core/errors.ts';

/** True when something exists at `path` (file, directory, anything `stat` sees). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a regular file as UTF-8. The type is checked on the open descriptor before reading, and
 * the open does not block: a FIFO (or a device) in its place is refused, not waited on.
 * ENOENT and other open errors are thrown as they are.
 */
export async function readRegularFile(path: string, options: { maxBytes?: number } = {}): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notAFile(path, st);
    if (options.maxBytes !== undefined && st.size > options.maxBytes) {
      throw new AgentError('FileTooLarge', `${path} is larger than the limit of ${options.maxBytes} bytes`, {
        terminal: true,
        data: { file: path, size: st.size, maxBytes: options.maxBytes },
      });
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/** The refusal of something that is not a regular file where one is read. */
export function notAFile(path: string, st: Stats): AgentError {
  const kind = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isDirectory() ? 'a directory' : 'a device';
  return new AgentError('NotAFile', `${path} is ${kind}, not a regular file`, { terminal: true, data: { file: path } });
}
