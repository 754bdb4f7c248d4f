import { chmod, chown, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { compareFiles, type BackupManifest, type Mismatch } from '../core/backup-manifest.ts';
import type { BackupVolume } from '../core/backup-target.ts';
import { AgentError } from '../core/errors.ts';
import type { Restic } from '../drivers/restic/restic.ts';
import { RESTORE_WORK_DIRS, scanVolumes } from './file-manifest.ts';

const [WORK_DIR, ASIDE_DIR] = RESTORE_WORK_DIRS;

/** A volume's files restored from a snapshot into a work directory inside the volume. */
export interface StagedVolume {
  volume: BackupVolume;
  /** The restored content (same filesystem as the volume, so moving it in is a rename). */
  staged: string;
  /** `<volume>/.appliance-restore`, removed at the end. */
  work: string;
}

/**
 * Restores each volume's files from the snapshot into `<volume>/.appliance-restore` (inside
 * the volume, so it is on the same filesystem, even a btrfs subvolume). Volumes the snapshot
 * does not have are left out.
 */
export async function stageVolumes(
  restic: Restic,
  snapshot: string,
  manifest: BackupManifest,
  volumes: readonly BackupVolume[],
): Promise<StagedVolume[]> {
  const out: StagedVolume[] = [];
  for (const volume of volumes) {
    const recorded = manifest.volumes.find((v) => v.name === volume.name);
    if (recorded === undefined) continue;
    await mkdir(volume.hostPath, { recursive: true });
    const work = path.join(volume.hostPath, WORK_DIR);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { mode: 0o700 });
    await restic.restore(snapshot, work, [recorded.path]);
    const staged = path.join(work, recorded.path);
    // A volume that was empty at backup time may come back as nothing at all.
    await mkdir(staged, { recursive: true });
    out.push({ volume, staged, work });
  }
  return out;
}

/** Compares staged files with the manifest's (only the staged volumes). */
export async function verifyStaged(staged: readonly StagedVolume[], manifest: BackupManifest): Promise<Mismatch[]> {
  const names = new Set(staged.map((s) => s.volume.name));
  const scan = await scanVolumes(staged.map((s) => ({ name: s.volume.name, root: s.staged })));
  return compareFiles(
    manifest.files.filter((f) => names.has(f.volume)),
    scan.files,
  );
}

/** Undo or finish a swap of staged files into the volumes. */
export interface FileSwap {
  /** Deletes the previous files and the work directories. */
  commit(): Promise<void>;
  /** Puts the previous files back. */
  rollback(): Promise<void>;
}

/**
 * Moves each volume's current entries aside (`<volume>/.appliance-pre-restore`) and the staged
 * ones in, by rename; the volume directory itself stays (it may be a subvolume or a mount).
 */
export async function swapInVolumes(staged: readonly StagedVolume[]): Promise<FileSwap> {
  // Per volume, the names moved in from staging: a rollback moves exactly those back out.
  const done: { s: StagedVolume; movedIn: string[] }[] = [];
  const swap: FileSwap = {
    commit: async () => {
      for (const s of staged) {
        await rm(path.join(s.volume.hostPath, ASIDE_DIR), { recursive: true, force: true });
        await rm(s.work, { recursive: true, force: true });
      }
    },
    rollback: async () => {
      for (const { s, movedIn } of done.reverse()) {
        const root = s.volume.hostPath;
        const aside = path.join(root, ASIDE_DIR);
        for (const name of movedIn) await rename(path.join(root, name), path.join(s.staged, name));
        for (const name of await readdir(aside)) await rename(path.join(aside, name), path.join(root, name));
        await rm(aside, { recursive: true, force: true });
        await rm(s.work, { recursive: true, force: true });
      }
    },
  };
  for (const s of staged) await refuseLeftover(path.join(s.volume.hostPath, ASIDE_DIR));
  try {
    for (const s of staged) {
      const root = s.volume.hostPath;
      const aside = path.join(root, ASIDE_DIR);
      await rm(aside, { recursive: true, force: true });
      await mkdir(aside, { mode: 0o700 });
      const entry = { s, movedIn: [] as string[] };
      done.push(entry);
      for (const name of await dataEntries(root)) await rename(path.join(root, name), path.join(aside, name));
      for (const name of await readdir(s.staged)) {
        await rename(path.join(s.staged, name), path.join(root, name));
        entry.movedIn.push(name);
      }
      const st = await lstat(s.staged);
      await chmod(root, st.mode & 0o7777);
      await chown(root, st.uid, st.gid);
    }
  } catch (err) {
    await swap.rollback();
    throw err;
  }
  return swap;
}

/** Removes work directories of a restore that did not get to swapping. */
export async function discardStaged(staged: readonly StagedVolume[]): Promise<void> {
  for (const s of staged) await rm(s.work, { recursive: true, force: true });
}

/** Files set aside by an interrupted restore are the only copy of something: never delete them. */
async function refuseLeftover(aside: string): Promise<void> {
  const names = await readdir(aside).catch(() => []);
  if (names.length > 0) {
    throw new AgentError(
      'RestoreLeftover',
      `${aside} holds files set aside by an interrupted restore; move them back or remove them, then restore again`,
      { terminal: true, data: { path: aside } },
    );
  }
}

async function dataEntries(root: string): Promise<string[]> {
  return (await readdir(root)).filter((n) => !(RESTORE_WORK_DIRS as readonly string[]).includes(n));
}
