import nodeFs from 'node:fs';
import git, { type TreeEntry } from 'isomorphic-git';
import { AgentError, describeError, isAgentError } from '../core/errors.ts';
import type { RepoReader } from '../config/load.ts';
import { DEFAULT_MAX_BYTES } from '../config/parse-yaml.ts';

/** The file system isomorphic-git uses (node:fs by default). */
export type GitFs = Parameters<typeof git.readTree>[0]['fs'];

/** Where and what {@link gitTreeReader} reads. */
export interface GitTreeReaderOptions {
  /** Default node:fs. */
  fs?: GitFs;
  /** A bare git directory holding `commit` and its whole tree. */
  gitdir: string;
  commit: string;
  /** isomorphic-git's object cache; share one across readers of the same gitdir to keep packs loaded. */
  cache?: object;
  /** Largest file returned, in bytes (default 1 MiB, the directory reader's cap). */
  maxBytes?: number;
}

/** Symbolic links followed while resolving one path. */
const MAX_LINKS = 8;
/** Longest symlink target read (PATH_MAX); a longer one is not a path git would write. */
const MAX_LINK_BYTES = 4096;
/** Parsed trees kept per reader; trees are immutable by id, so this is only a bound on memory. */
const MAX_TREES = 2048;

type Resolved =
  | { kind: 'missing' }
  | { kind: 'tree'; oid: string }
  | { kind: 'blob'; oid: string }
  | { kind: 'submodule'; oid: string };

/**
 * A RepoReader over one commit of a git object store: no work tree is written. Paths are
 * repository-relative; absolute paths and `..` segments are refused (`PathEscape`), symlinks
 * committed to the repo are followed only while they stay inside it (at most 8 in a row), and
 * a tree entry git itself would refuse (`.git`, `..`, names with `/`) is a `PathEscape` too.
 * Directories and submodules are not files (`NotAFile`), files above `maxBytes` are refused
 * (`FileTooLarge`), and a damaged or missing object store is `SourceCorrupt`. A missing file is
 * `undefined`, a missing directory lists as empty. The reader only ever sees `commit`: later
 * fetches into the same gitdir do not change what it returns.
 */
export function gitTreeReader(options: GitTreeReaderOptions): RepoReader {
  const { gitdir, commit } = options;
  const fs = options.fs ?? nodeFs;
  const cache = options.cache ?? {};
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const trees = new Map<string, Promise<TreeEntry[]>>();
  let root: Promise<string> | undefined;

  const step = async <T>(rel: string, body: () => Promise<T>): Promise<T> => {
    try {
      return await body();
    } catch (err) {
      throw readError(err, rel, commit);
    }
  };
  const rootTree = (): Promise<string> => {
    if (root === undefined) {
      const pending = git.readCommit({ fs, gitdir, oid: commit, cache }).then(({ commit: c }) => c.tree);
      // A failed read is not remembered: the store may be repaired under a long-lived reader.
      pending.catch(() => {
        if (root === pending) root = undefined;
      });
      root = pending;
    }
    return root;
  };
  const tree = (oid: string): Promise<TreeEntry[]> => {
    let entries = trees.get(oid);
    if (entries === undefined) {
      if (trees.size >= MAX_TREES) trees.clear();
      entries = git.readTree({ fs, gitdir, oid, cache }).then((r) => r.tree);
      const pending = entries;
      pending.catch(() => {
        if (trees.get(oid) === pending) trees.delete(oid);
      });
      trees.set(oid, entries);
    }
    return entries;
  };

  /** Walks `rel` from the root tree the way a kernel walks a path, following symlinks. */
  const resolve = async (rel: string): Promise<Resolved> => {
    let pending = splitRel(rel);
    const stack: string[] = [await rootTree()];
    let links = 0;
    while (pending.length > 0) {
      const [name, ...rest] = pending as [string, ...string[]];
      pending = rest;
      if (name === '..') {
        // Only a symlink target brings `..` here; the caller's path was checked.
        if (stack.length === 1) throw escape(rel, 'leads outside the repository (symlink)');
        stack.pop();
        continue;
      }
      const entry = (await tree(stack[stack.length - 1] ?? '')).find((e) => e.path === name);
      if (entry === undefined) return { kind: 'missing' };
      if (entry.mode === '120000') {
        links += 1;
        if (links > MAX_LINKS) throw escape(rel, `passes through more than ${MAX_LINKS} symlinks`);
        const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
        if (blob.length > MAX_LINK_BYTES) throw escape(rel, 'passes through a symlink with an overlong target');
        const target = Buffer.from(blob).toString('utf8');
        if (target === '' || target.startsWith('/') || target.includes('\0')) {
          throw escape(rel, 'leads outside the repository (symlink)');
        }
        // The target is relative to the directory holding the link, which is the top of `stack`.
        pending = [...target.split('/').filter((s) => s !== '' && s !== '.'), ...pending];
        continue;
      }
      if (entry.type === 'commit') return { kind: 'submodule', oid: entry.oid };
      if (entry.type === 'blob') return pending.length === 0 ? { kind: 'blob', oid: entry.oid } : { kind: 'missing' };
      stack.push(entry.oid);
    }
    return { kind: 'tree', oid: stack[stack.length - 1] ?? '' };
  };

  return {
    readFile: (rel) =>
      step(rel, async () => {
        const found = await resolve(rel);
        if (found.kind === 'missing') return undefined;
        if (found.kind !== 'blob') {
          const what = found.kind === 'tree' ? 'a directory' : 'a submodule';
          throw new AgentError('NotAFile', `${rel} is ${what}, not a file`, {
            terminal: true,
            data: { path: rel, commit },
          });
        }
        const { blob } = await git.readBlob({ fs, gitdir, oid: found.oid, cache });
        if (blob.length > maxBytes) {
          throw new AgentError('FileTooLarge', `${rel} is ${blob.length} bytes, more than the ${maxBytes} allowed`, {
            terminal: true,
            data: { path: rel, size: blob.length, maxBytes },
          });
        }
        return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).toString('utf8');
      }),
    listDir: (rel) =>
      step(rel, async () => {
        const found = await resolve(rel);
        if (found.kind !== 'tree') return [];
        return (await tree(found.oid)).map((e) => e.path).sort();
      }),
  };
}

/** The segments of a caller's repository-relative path; refuses anything that could leave the repo. */
function splitRel(rel: string): string[] {
  if (rel.startsWith('/') || rel.startsWith('\\') || rel.includes('\0') || rel.split(/[\\/]/).includes('..')) {
    throw escape(rel, 'must be a relative path without ".."');
  }
  return rel.split('/').filter((s) => s !== '' && s !== '.');
}

function escape(rel: string, why: string): AgentError {
  return new AgentError('PathEscape', `path ${JSON.stringify(rel)} ${why}`, { terminal: true, data: { path: rel } });
}

function readError(err: unknown, rel: string, commit: string): AgentError {
  if (isAgentError(err)) return err;
  const e = err as { code?: unknown; data?: { filepath?: unknown } };
  if (e.code === 'UnsafeFilepathError') {
    // isomorphic-git refuses to parse a tree holding `.git`, `..` or a name with a slash.
    const entry = String(e.data?.filepath);
    return new AgentError(
      'PathEscape',
      `path ${JSON.stringify(rel)} passes a tree with the unsafe entry ${JSON.stringify(entry)}`,
      {
        terminal: true,
        data: { path: rel, entry, commit },
      },
    );
  }
  return new AgentError(
    'SourceCorrupt',
    `cannot read ${rel} of ${commit}: the local git store is damaged (${describeError(err)}); it is fetched again on the next sync`,
    { data: { path: rel, commit }, cause: err },
  );
}
