import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BackupVolume } from '../core/backup-target.ts';
import { describeError } from '../core/errors.ts';
import { btrfsOps, isSubvolume } from '../drivers/snapshot/volume-ops.ts';
import type { Logger } from '../lib/log.ts';

/** Beside the volumes: read-only snapshots of them while a backup reads them. */
export const STAGE_DIR = '.appliance-backup-stage';

/** Where a backup reads the volumes from. */
export interface VolumeView {
  /** As scanVolumes takes them: `root` is read, `path` (the volume's own) goes in the manifest. */
  roots: { name: string; root: string; path: string }[];
  /**
   * Set when the volumes are frozen: restic runs in `stage`, where each volume's snapshot sits
   * at the volume's own path, so `paths` (relative) store it under that path as a live read would.
   */
  frozen?: { stage: string; paths: string[] };
  /** Deletes the snapshots. */
  release: () => Promise<void>;
}

/**
 * Freezes the volumes for a backup when each is a btrfs subvolume: a read-only snapshot of each
 * (instant), so the manifest's hashes and what restic stores are the same files even while the
 * app writes. Else, or when a snapshot cannot be made (another filesystem), the live volumes: a
 * file written during the backup may then differ from its manifest entry.
 */
export async function volumeView(volumes: readonly BackupVolume[], log: Logger): Promise<VolumeView> {
  const live: VolumeView = {
    roots: volumes.map((v) => ({ name: v.name, root: v.hostPath, path: v.hostPath })),
    release: () => Promise.resolve(),
  };
  const stage = stageOf(volumes);
  if (stage === undefined) return live;
  // What a killed backup left (read-only snapshots cannot be removed file by file).
  await btrfsOps.remove(stage);
  const subvolumes = await Promise.all(volumes.map((v) => isSubvolume(v.hostPath)));
  if (!subvolumes.every(Boolean)) return live;
  const release = (): Promise<void> => btrfsOps.remove(stage);
  try {
    await mkdir(stage, { mode: 0o700 });
    for (const v of volumes) await btrfsOps.copy(v.hostPath, path.join(stage, v.hostPath), true);
  } catch (err) {
    log.warn({ err: describeError(err) }, 'could not snapshot the volumes; backing up the live files');
    await release();
    return live;
  }
  return {
    roots: volumes.map((v) => ({ name: v.name, root: path.join(stage, v.hostPath), path: v.hostPath })),
    frozen: { stage, paths: volumes.map((v) => path.relative('/', v.hostPath)) },
    release,
  };
}

/** The stage: in the deepest directory holding all the volumes (their filesystem, if they share one). */
function stageOf(volumes: readonly BackupVolume[]): string | undefined {
  const parents = volumes.map((v) => path.dirname(path.resolve(v.hostPath)).split(path.sep));
  const first = parents[0];
  if (first === undefined) return undefined;
  let n = first.length;
  for (const p of parents) {
    let i = 0;
    while (i < n && p[i] === first[i]) i++;
    n = i;
  }
  return path.join(first.slice(0, n).join(path.sep) || path.sep, STAGE_DIR);
}
