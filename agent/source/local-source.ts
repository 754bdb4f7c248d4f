import nodeFs from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import git from 'isomorphic-git';
import { AgentError } from '../core/errors.ts';
import type { RepoReader } from '../config/load.ts';
import { dirRepoReader } from '../config/repo-dir.ts';
import type { Logger } from '../lib/log.ts';
import type { GitCredentials } from './credentials.ts';
import { GitSource } from './git-source.ts';

/** A config repo opened for one command (`appliance validate/render --repo …`). */
export interface OpenedSource {
  /** The repo's files: the directory as it is, or the fetched commit of a URL. */
  reader: RepoReader;
  /** The fetched commit of a URL; HEAD for a directory in a git work tree (whose uncommitted changes the reader includes). */
  revision?: string;
  /** Removes what opening created (the temporary object store of a URL); a no-op for a directory. */
  close(): Promise<void>;
}

/**
 * Opens a directory as is, or fetches an http(s) URL into a temporary object store and reads
 * its branch head from there (no signature or rewind checks: this is for operators inspecting
 * a repo, not for applying it).
 */
export async function openSource(
  spec: string,
  deps: { log: Logger },
  options: { branch?: string; auth?: GitCredentials } = {},
): Promise<OpenedSource> {
  if (/^https?:\/\//i.test(spec)) {
    const stateDir = await mkdtemp(join(tmpdir(), 'appliance-source-'));
    const close = () => rm(stateDir, { recursive: true, force: true });
    try {
      const source = new GitSource(deps, {
        url: spec,
        branch: options.branch ?? 'main',
        stateDir,
        ...(options.auth === undefined ? {} : { auth: options.auth }),
      });
      const { reader, revision } = await source.sync();
      return { reader, revision, close };
    } catch (err) {
      await close();
      throw err;
    }
  }
  const dir = resolve(spec);
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new AgentError('SourceNotFound', `${dir} is not a directory`, { terminal: true, data: { dir } });
  const revision = await headOf(dir);
  return {
    reader: dirRepoReader(dir),
    ...(revision === undefined ? {} : { revision }),
    close: () => Promise.resolve(),
  };
}

async function headOf(dir: string): Promise<string | undefined> {
  try {
    const root = await git.findRoot({ fs: nodeFs, filepath: dir });
    return await git.resolveRef({ fs: nodeFs, dir: root, ref: 'HEAD' });
  } catch {
    // Not a work tree, or a repo without commits: a plain directory.
    return undefined;
  }
}
