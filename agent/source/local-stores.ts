import { access, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import { AgentError } from '../core/errors.ts';
import type { AcceptedState } from './accepted-state.ts';
import type { GitFs } from './tree-reader.ts';

/** The object store one sync works in. */
export interface Store {
  gitdir: string;
  /** Created by this sync: nothing fetched into it yet. */
  fresh: boolean;
  /** `repo.git.new`, which replaces `repo.git` once it holds the accepted revision. */
  replacing: boolean;
}

/**
 * The bare git object stores in a source's state dir. `repo.git` holds the accepted revision;
 * fetches only add packs to it (isomorphic-git never prunes objects), so a revision once
 * accepted stays readable. When the store is found damaged, or the URL changed, while a
 * revision is accepted, `repo.git` is kept and a replacement is fetched into `repo.git.new`
 * (an empty `repo.git.new` marks the replacement as pending, also across restarts), which takes
 * its place once it holds the newly accepted revision. Without an accepted revision a damaged
 * `repo.git` is simply dropped.
 */
export class LocalStores {
  readonly main: string;
  readonly replacement: string;
  /** isomorphic-git's pack cache for these stores, shared by syncs and readers so packs are loaded and verified once. */
  cache: object = {};

  constructor(
    stateDir: string,
    private readonly fs: GitFs,
    private readonly url: string,
    private readonly branch: string,
  ) {
    this.main = join(stateDir, 'repo.git');
    this.replacement = join(stateDir, 'repo.git.new');
  }

  /** True while `repo.git.new` exists: a replacement is pending. */
  pending(): Promise<boolean> {
    return exists(this.replacement);
  }

  /** True when `gitdir` has been initialised. */
  exists(gitdir: string): Promise<boolean> {
    return exists(join(gitdir, 'HEAD'));
  }

  /** The store holding `commit`, looking in `repo.git` first; undefined when neither does. */
  async locate(commit: string): Promise<string | undefined> {
    for (const gitdir of [this.main, this.replacement]) if (await this.holds(gitdir, commit)) return gitdir;
    return undefined;
  }

  /** True when `gitdir` holds commit `oid`; any failure to read it counts as not. */
  async holds(gitdir: string, oid: string): Promise<boolean> {
    try {
      await git.readCommit({ fs: this.fs, gitdir, oid, cache: this.cache });
      return true;
    } catch {
      return false;
    }
  }

  /** Like {@link holds}, but a store that cannot be read is `SourceCorrupt`. */
  async hasCommit(gitdir: string, oid: string): Promise<boolean> {
    try {
      await git.readCommit({ fs: this.fs, gitdir, oid, cache: this.cache });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFoundError') return false;
      throw storeCorrupt(this.url, 'read', err);
    }
  }

  /**
   * Picks the store to work in: `repo.git.new` while a replacement is pending, or when `repo.git`
   * belongs to another URL while a revision is accepted; else `repo.git`. Creates it when needed.
   */
  async open(state: AcceptedState | undefined): Promise<Store> {
    let gitdir = this.main;
    let url = await this.urlOf(gitdir);
    if ((await this.pending()) || (state !== undefined && url !== undefined && url !== this.url)) {
      gitdir = this.replacement;
      url = await this.urlOf(gitdir);
    }
    const replacing = gitdir === this.replacement;
    if (url === this.url) return { gitdir, fresh: false, replacing };
    this.cache = {};
    await rm(gitdir, { recursive: true, force: true });
    await git.init({ fs: this.fs, gitdir, bare: true, defaultBranch: this.branch });
    // Only the credential-free URL is ever written to the git config.
    await git.addRemote({ fs: this.fs, gitdir, remote: 'origin', url: this.url, force: true });
    return { gitdir, fresh: true, replacing };
  }

  /** Moves `repo.git.new` into place of `repo.git`; returns the path of `repo.git`. */
  async adoptReplacement(): Promise<string> {
    const old = `${this.main}.old`;
    await rm(old, { recursive: true, force: true });
    await rename(this.main, old).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    });
    await rename(this.replacement, this.main);
    await syncDir(join(this.main, '..'));
    await rm(old, { recursive: true, force: true });
    this.cache = {};
    return this.main;
  }

  /**
   * Stops trusting the store `gitdir`. A replacement being filled is started over; `repo.git` is
   * dropped when nothing is accepted, else kept (it holds the accepted revision) while a
   * replacement is fetched.
   */
  async distrust(gitdir: string, state: AcceptedState | undefined): Promise<void> {
    this.cache = {};
    if (gitdir === this.main && state === undefined) {
      await rm(this.main, { recursive: true, force: true });
      return;
    }
    if (gitdir === this.replacement) await rm(this.replacement, { recursive: true, force: true });
    await mkdir(this.replacement, { recursive: true, mode: 0o700 });
  }

  /** The remote URL of the store `gitdir`; undefined when there is no store. */
  private async urlOf(gitdir: string): Promise<unknown> {
    if (!(await this.exists(gitdir))) return undefined;
    return git.getConfig({ fs: this.fs, gitdir, path: 'remote.origin.url' }).catch(() => undefined);
  }
}

/** The error for a local store that isomorphic-git cannot read. */
export function storeCorrupt(url: string, step: string, err: unknown): AgentError {
  const reason = err instanceof Error ? err.message : String(err);
  return new AgentError(
    'SourceCorrupt',
    `local copy of ${url} is damaged (${step}): ${reason}; it is fetched again on the next sync`,
    {
      data: { url, step },
      cause: err,
    },
  );
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
