import { mkdir, readdir, readFile, rename, rm, symlink, writeFile, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import git from 'isomorphic-git';
import { AgentError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';

type GitFs = Parameters<typeof git.readTree>[0]['fs'];

/** The accepted revision, persisted in `<stateDir>/source.json`. */
export interface AcceptedState {
  version: 1;
  /** Credential-free remote URL the revision came from. */
  url: string;
  branch: string;
  revision: string;
  /** ISO time the revision was accepted. */
  acceptedAt: string;
  /** Who signed it, when signatures are checked. */
  signer?: string;
}

/**
 * Immutable checkouts under `<stateDir>/checkouts/<commit>`. A revision is written to a temp
 * directory and renamed into place, so `checkouts/<commit>` is always complete; `current` is a
 * symlink swapped by rename. Readers get the commit directory itself, which never changes.
 */
export class CheckoutStore {
  readonly root: string;

  constructor(readonly stateDir: string) {
    this.root = join(stateDir, 'checkouts');
  }

  /** Where revision `commit` is (or would be) checked out. */
  dirOf(commit: string): string {
    return join(this.root, commit);
  }

  async has(commit: string): Promise<boolean> {
    try {
      return (await stat(this.dirOf(commit))).isDirectory();
    } catch {
      return false;
    }
  }

  /** Writes the tree of `commit` from the bare repo `gitdir`, unless it is there already. */
  async materialize(fs: GitFs, gitdir: string, commit: string, cache: object): Promise<string> {
    const dir = this.dirOf(commit);
    if (await this.has(commit)) return dir;
    await mkdir(this.root, { recursive: true });
    const tmp = join(this.root, `.tmp-${commit}-${randomBytes(4).toString('hex')}`);
    try {
      const { commit: parsed } = await git.readCommit({ fs, gitdir, oid: commit, cache });
      await mkdir(tmp);
      await writeTree(fs, gitdir, parsed.tree, tmp, cache);
      await syncDir(tmp);
      await rename(tmp, dir);
      await syncDir(this.root);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return dir;
  }

  /** Points `<stateDir>/current` at `commit` in one rename. */
  async activate(commit: string): Promise<void> {
    const tmp = join(this.stateDir, `.current-${randomBytes(4).toString('hex')}`);
    await symlink(join('checkouts', commit), tmp);
    await rename(tmp, join(this.stateDir, 'current'));
    await syncDir(this.stateDir);
  }

  /** Removes every checkout (and leftover temp directory) except those in `keep`. */
  async prune(keep: readonly string[]): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of entries) {
      if (keep.includes(name)) continue;
      await rm(join(this.root, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }
}

/** File-system operations in flight while writing a checkout. */
const WRITERS = 16;

/**
 * Writes the tree `treeOid` into the empty directory `dir`. Writes run concurrently (bounded):
 * on slow disks creating hundreds of small files one at a time dominates a first sync. They all
 * go into a private temp directory, and every write settles before an error is reported, so the
 * caller can remove the directory knowing nothing is still being written into it.
 */
async function writeTree(fs: GitFs, gitdir: string, treeOid: string, dir: string, cache: object): Promise<void> {
  const limit = limiter(WRITERS);
  const writeDir = async (oid: string, target: string): Promise<void> => {
    let tree;
    try {
      ({ tree } = await git.readTree({ fs, gitdir, oid, cache }));
    } catch (err) {
      // isomorphic-git refuses names like "..", ".git" or "a/b" in a tree it parses.
      const e = err as { code?: unknown; data?: { filepath?: unknown } };
      if (e.code === 'UnsafeFilepathError') throw unsafeEntry(oid, String(e.data?.filepath));
      throw err;
    }
    const results = await Promise.allSettled(
      tree.map(async (entry) => {
        // git itself never writes these; a crafted tree could, to climb out of the checkout.
        if (
          entry.path === '' ||
          entry.path === '.' ||
          entry.path === '..' ||
          /[/\\\0]/.test(entry.path) ||
          entry.path.toLowerCase() === '.git'
        ) {
          throw unsafeEntry(oid, entry.path);
        }
        const path = join(target, entry.path);
        if (entry.type === 'tree') {
          await limit(() => mkdir(path));
          await writeDir(entry.oid, path);
        } else if (entry.type === 'blob') {
          await limit(async () => {
            const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
            if (entry.mode === '120000') await symlink(Buffer.from(blob).toString('utf8'), path);
            else await writeFile(path, blob, { mode: entry.mode === '100755' ? 0o755 : 0o644 });
          });
        }
        // Submodules (commit entries) are not followed: the config repo is self-contained.
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  };
  await writeDir(treeOid, dir);
}

function limiter(max: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (job) => {
    // A finishing job hands its slot straight to the next waiter, so `active` never exceeds max.
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else active += 1;
    try {
      return await job();
    } finally {
      const next = waiting.shift();
      if (next === undefined) active -= 1;
      else next();
    }
  };
}

function unsafeEntry(tree: string, name: string): AgentError {
  return new AgentError('PathEscape', `commit tree has an unsafe entry name ${JSON.stringify(name)}`, {
    terminal: true,
    data: { tree, path: name },
  });
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads the accepted state; undefined when there is none yet. A damaged file is refused. */
export async function readAcceptedState(file: string): Promise<AcceptedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isAcceptedState(value)) {
    // Silently starting over would drop the rewind guard: an operator has to look.
    throw new AgentError(
      'SourceStateCorrupt',
      `source state ${file} is damaged; inspect it, or remove it to accept the remote head again`,
      {
        terminal: true,
        data: { file },
      },
    );
  }
  return value;
}

/** Persists the accepted state atomically. */
export async function writeAcceptedState(file: string, state: AcceptedState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

function isAcceptedState(v: unknown): v is AcceptedState {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    o['version'] === 1 &&
    typeof o['url'] === 'string' &&
    typeof o['branch'] === 'string' &&
    typeof o['revision'] === 'string' &&
    /^[0-9a-f]{40}$/.test(o['revision']) &&
    typeof o['acceptedAt'] === 'string' &&
    (o['signer'] === undefined || typeof o['signer'] === 'string')
  );
}
