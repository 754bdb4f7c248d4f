import { constants } from 'node:fs';
import { open, readdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AgentError } from '../core/errors.ts';
import { notAFile } from '../lib/fs.ts';
import type { RepoReader } from './load.ts';
import { DEFAULT_MAX_BYTES } from './parse-yaml.ts';

/**
 * A RepoReader over a directory (a checkout or a working tree). Paths must stay inside the
 * root, also through symlinks; files larger than `maxBytes` are refused. Refusals are
 * AgentErrors (PathEscape, FileTooLarge: the same codes as the git tree reader), which the loader reports as config issues.
 */
export function dirRepoReader(root: string, options: { maxBytes?: number } = {}): RepoReader {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const base = resolve(root);
  return {
    async readFile(rel) {
      const path = await inside(base, rel);
      if (path === undefined) return undefined;
      let fh;
      try {
        // Non-blocking: a FIFO would otherwise hang the open until someone writes to it.
        fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch (err) {
        if (isCode(err, 'ENOENT') || isCode(err, 'EISDIR')) return undefined;
        throw err;
      }
      try {
        const st = await fh.stat();
        if (st.isDirectory()) return undefined;
        if (!st.isFile()) throw notAFile(rel, st);
        if (st.size > maxBytes) {
          throw new AgentError('FileTooLarge', `file is larger than the limit of ${maxBytes} bytes`, {
            terminal: true,
            data: { file: rel, size: st.size, maxBytes },
          });
        }
        return await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    },
    async listDir(rel) {
      const path = await inside(base, rel);
      if (path === undefined) return [];
      try {
        return (await readdir(path, { withFileTypes: true }))
          .filter((e) => e.name !== '.git')
          .map((e) => e.name)
          .sort();
      } catch (err) {
        if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return [];
        throw err;
      }
    },
  };
}

/** The absolute path of `rel` under `base`, refusing escapes; undefined when it does not exist. */
async function inside(base: string, rel: string): Promise<string | undefined> {
  if (isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) {
    throw new AgentError('PathEscape', `path '${rel}' leaves the repository`, {
      terminal: true,
      data: { path: rel },
    });
  }
  const path = join(base, rel);
  let real: string;
  let realBase: string;
  try {
    [real, realBase] = await Promise.all([realpath(path), realpath(base)]);
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return undefined;
    throw err;
  }
  const r = relative(realBase, real);
  if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
    throw new AgentError('PathEscape', `path '${rel}' leads outside the repository (symlink)`, {
      terminal: true,
      data: { path: rel },
    });
  }
  return real;
}

function isCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
