import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, type BigIntStats, type Dirent } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { FileEntry, VolumeManifest } from '../core/backup-manifest.ts';
import type { BackupVolume } from '../core/backup-target.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';

/** Names at a volume's top level that restores use for their work: never part of the data. */
export const RESTORE_WORK_DIRS = ['.appliance-restore', '.appliance-pre-restore'] as const;

/** sha256 of files seen before, by volume/path, valid while size, mtime, ctime and inode match. */
export type HashCache = Map<string, { stamp: string; sha256: string }>;

const CACHE_FORMAT = 1;
const PARALLEL = 8;
const YIELD_EVERY = 2000;

/** Reads a hash cache file; an unreadable one is an empty cache. */
export async function loadHashCache(file: string): Promise<HashCache> {
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as { format: number; entries: [string, string, string][] };
    if (raw.format !== CACHE_FORMAT) return new Map();
    return new Map(raw.entries.map(([key, stamp, sha256]) => [key, { stamp, sha256 }]));
  } catch {
    return new Map();
  }
}

export async function saveHashCache(file: string, cache: HashCache): Promise<void> {
  const entries = [...cache].map(([key, v]) => [key, v.stamp, v.sha256]);
  await writeFileAtomic(file, JSON.stringify({ format: CACHE_FORMAT, entries }), { mode: 0o600 });
}

/**
 * Every regular file and symbolic link of the volumes with its sha256, sorted; volumes that do
 * not exist count as empty. Hashes come from `cache` when the file's stat is unchanged (the
 * same test restic uses to skip unchanged files); the cache is replaced by what was seen. A
 * volume read from elsewhere than its own path (a snapshot) gives that path as `path`.
 */
export async function scanVolumes(
  volumes: readonly { name: string; root: string; path?: string }[],
  cache?: HashCache,
): Promise<{ files: FileEntry[]; volumes: VolumeManifest[] }> {
  const seen: HashCache = new Map();
  const files: FileEntry[] = [];
  const summary: VolumeManifest[] = [];
  for (const v of volumes) {
    const found = await listVolume(v.root);
    // Metadata comes from the page cache: synchronous calls are several times faster than
    // promises per file; the loop yields now and then so the event loop keeps serving.
    const stats: BigIntStats[] = [];
    for (const [i, f] of found.entries()) {
      stats.push(lstatSync(f.abs, { bigint: true }));
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    const entries = await mapLimit(found, PARALLEL, async (f, i) => {
      const st = stats[i] as BigIntStats;
      const link = st.isSymbolicLink();
      const stamp = `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
      const key = `${v.name}/${f.rel}`;
      const hit = cache?.get(key);
      const sha256 =
        hit !== undefined && hit.stamp === stamp
          ? hit.sha256
          : link
            ? sha256Text(await readlink(f.abs))
            : await sha256File(f.abs);
      seen.set(key, { stamp, sha256 });
      const entry: FileEntry = { volume: v.name, path: f.rel, size: Number(st.size), sha256 };
      if (link) entry.link = true;
      return entry;
    });
    files.push(...entries);
    summary.push({
      name: v.name,
      path: v.path ?? v.root,
      files: entries.length,
      bytes: entries.reduce((n, e) => n + (e.link === true ? 0 : e.size), 0),
    });
  }
  if (cache !== undefined) {
    cache.clear();
    for (const [k, x] of seen) cache.set(k, x);
  }
  return { files, volumes: summary };
}

/** Volumes as `scanVolumes` takes them. */
export function volumeRoots(volumes: readonly BackupVolume[]): { name: string; root: string }[] {
  return volumes.map((v) => ({ name: v.name, root: v.hostPath }));
}

interface Found {
  abs: string;
  rel: string;
}

/** Regular files and links under `root`, sorted by path. */
async function listVolume(root: string): Promise<Found[]> {
  const out: Found[] = [];
  const pending: [string, string][] = [[root, '']];
  let reads = 0;
  while (pending.length > 0) {
    const [dir, rel] = pending.pop() as [string, string];
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') continue;
      throw err;
    }
    for (const e of entries) {
      if (rel === '' && (RESTORE_WORK_DIRS as readonly string[]).includes(e.name)) continue;
      const abs = path.join(dir, e.name);
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) pending.push([abs, r]);
      else if (e.isFile() || e.isSymbolicLink()) out.push({ abs, rel: r });
    }
    if (++reads % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
