import { lstat, mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../../core/errors.ts';
import { run } from '../../lib/exec.ts';

/** How one kind of storage makes, copies and removes a volume directory. */
export interface VolumeOps {
  readonly kind: 'btrfs' | 'copy';
  /** True when `copy` of this directory is atomic (a btrfs subvolume). */
  isAtomic(dir: string): Promise<boolean>;
  makeVolume(dir: string): Promise<void>;
  /** Copies `src` to the new path `dst` (read-only when asked and possible). */
  copy(src: string, dst: string, readOnly: boolean): Promise<void>;
  /** Removes a directory made by `makeVolume` or `copy`, or any directory. */
  remove(dir: string): Promise<void>;
}

const BTRFS_MAGIC = 0x9123683e;
// The root directory of every btrfs subvolume has this inode number.
const SUBVOLUME_INODE = 256;
const TIMEOUT_MS = 6 * 60 * 60_000;

/** btrfs: volumes are subvolumes, copies are (read-only) snapshots. */
export const btrfsOps: VolumeOps = {
  kind: 'btrfs',
  isAtomic: (dir) => isSubvolume(dir),
  async makeVolume(dir) {
    if (await exists(dir)) return;
    await mkdir(path.dirname(dir), { recursive: true });
    await run('btrfs', ['subvolume', 'create', dir], { timeoutMs: 60_000 });
  },
  async copy(src, dst, readOnly) {
    await mkdir(path.dirname(dst), { recursive: true });
    if (await isSubvolume(src)) {
      await run('btrfs', ['subvolume', 'snapshot', ...(readOnly ? ['-r'] : []), src, dst], { timeoutMs: 60_000 });
    } else {
      // A plain directory on btrfs: a reflink copy shares the data blocks (fast) but is not atomic.
      await run('cp', ['-a', '--reflink=always', src, dst], { timeoutMs: TIMEOUT_MS });
    }
  },
  async remove(dir) {
    if (!(await exists(dir))) return;
    if (await isSubvolume(dir)) {
      await run('btrfs', ['subvolume', 'delete', dir], { timeoutMs: 10 * 60_000 });
    } else {
      await removeTree(dir);
    }
  },
};

/** Plain directories: copies are full copies (`cp -a`, with reflinks where the filesystem has them). */
export const copyOps: VolumeOps = {
  kind: 'copy',
  isAtomic: () => Promise.resolve(false),
  async makeVolume(dir) {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  },
  async copy(src, dst) {
    await mkdir(path.dirname(dst), { recursive: true });
    await run('cp', ['-a', '--reflink=auto', src, dst], { timeoutMs: TIMEOUT_MS });
  },
  async remove(dir) {
    await removeTree(dir);
  },
};

/** The ops for the filesystem `dir` is (or would be) on: btrfs or plain copies. */
export async function volumeOpsFor(dir: string): Promise<VolumeOps> {
  let probe = path.resolve(dir);
  while (!(await exists(probe))) {
    const parent = path.dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  const fs = await statfs(probe);
  return fs.type === BTRFS_MAGIC ? btrfsOps : copyOps;
}

/** True for the root directory of a btrfs subvolume. */
export async function isSubvolume(dir: string): Promise<boolean> {
  try {
    const [st, fs] = await Promise.all([stat(dir), statfs(dir)]);
    return fs.type === BTRFS_MAGIC && st.isDirectory() && st.ino === SUBVOLUME_INODE;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** True when something (file, directory, link) is at `p`. */
export async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Removes a tree that may hold subvolumes (a read-only one cannot be removed file by file). */
async function removeTree(dir: string): Promise<void> {
  if (!(await exists(dir))) return;
  try {
    await rm(dir, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EROFS' && code !== 'ENOTEMPTY' && code !== 'EACCES') throw err;
    // Subvolumes inside (read-only snapshots cannot be emptied file by file): delete them first.
    const subs = await nestedSubvolumes(dir);
    if (subs.length === 0) throw new AgentError('SnapshotDeleteFailed', `cannot remove ${dir}`, { cause: err });
    for (const sub of subs) {
      await run('btrfs', ['subvolume', 'delete', sub], { timeoutMs: 10 * 60_000 }).catch(async (e: unknown) => {
        // The rm's other deletions were still under way when it failed: one may have taken it.
        if (await exists(sub)) throw e;
      });
    }
    await rm(dir, { recursive: true, force: true });
  }
}

async function nestedSubvolumes(dir: string): Promise<string[]> {
  const out: string[] = [];
  // The failed rm may have taken part of the tree (an emptied writable subvolume goes with rmdir).
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  });
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const p = path.join(dir, entry.name);
    if (await isSubvolume(p)) out.push(p);
    else out.push(...(await nestedSubvolumes(p)));
  }
  return out;
}

/** Renames, tolerating that an earlier (interrupted) run already did it. */
export async function renameIfThere(from: string, to: string): Promise<void> {
  if (!(await exists(from))) return;
  await mkdir(path.dirname(to), { recursive: true });
  await rename(from, to);
}
