import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dumpPathOf, SNAPSHOT_LAYOUT, type BackupManifest, type DatabaseManifest } from '../core/backup-manifest.ts';
import { guardBackup } from '../core/backup-guards.ts';
import { backupFailed, backupSucceeded, type BackupSuccess } from '../core/backup-status.ts';
import { snapshotTags } from '../core/backup-target.ts';
import { AgentError, describeError, isAgentError } from '../core/errors.ts';
import { emptyDumpDir } from '../drivers/postgres/dump-dir.ts';
import type { PendingDump } from '../drivers/postgres/postgres.ts';
import { withBackupMount } from '../drivers/restic/mount.ts';
import type { ResticBackupSummary, ResticProgress } from '../drivers/restic/output.ts';
import type { BackupRequest, Restic } from '../drivers/restic/restic.ts';
import { backupPaths, requireRestic, withJob, type BackupContext } from './context.ts';
import { loadHashCache, RESTORE_WORK_DIRS, saveHashCache, scanVolumes } from './file-manifest.ts';
import { volumeView, type VolumeView } from './frozen-volumes.ts';
import { applyRetention } from './prune.ts';

/** What a backup is doing, for a progress display. */
export type BackupPhase = 'checks' | 'scan' | 'dump' | 'upload' | 'retention';

export interface RunBackupOptions {
  /** The encrypted env.yml exactly as in the config repository (never the decrypted one). */
  envYml?: string;
  /** SQL whose first value says the database is not empty (default: a user table has a row), asked in the dump's snapshot. */
  nonEmptySql?: string;
  onPhase?: (phase: BackupPhase) => void;
  onProgress?: (progress: ResticProgress) => void;
  /** Backdates the snapshot (tests of retention). */
  time?: Date;
  /**
   * Apply retention after the backup (`appliance backup run --prune`). Scheduled backups do not:
   * retention runs on its own schedule (schedules.backup_prune), as it costs more than the backup.
   */
  prune?: boolean;
  /** More snapshot tags (`kind=pre-restore`). */
  extraTags?: readonly string[];
  /**
   * Back up even an empty database or file store: for the state before a restore, which is
   * kept whatever it is and never takes part in retention's decision to drop good backups.
   */
  skipGuards?: boolean;
  signal?: AbortSignal;
}

export type BackupResult = BackupSuccess;

/**
 * One backup: refuse an empty database or file store, check the repository and its password
 * before a database is dumped, dump the database consistently, store files, dump, encrypted
 * env.yml and a manifest as one restic snapshot (a missing repository is created), and apply
 * retention when asked to (only after a successful backup). The outcome is recorded in the status.
 */
export async function runBackup(ctx: BackupContext, options: RunBackupOptions = {}): Promise<BackupResult> {
  const restic = requireRestic(ctx);
  return withJob(ctx, 'backup', async () => {
    const started = ctx.now();
    try {
      const result = await backupUnlocked(ctx, options, started);
      await ctx.status.update(ctx.now(), (s) => backupSucceeded(s, result));
      ctx.log.info(
        { snapshot: result.snapshotId, bytesAdded: result.bytesAdded, seconds: result.durationSeconds },
        'backup succeeded',
      );
      return result;
    } catch (err) {
      const finished = ctx.now();
      const code = isAgentError(err) ? err.code : 'BackupFailed';
      const message = restic.scrub(describeError(err));
      await ctx.status.update(finished, (s) =>
        backupFailed(s, {
          startedAt: started.toISOString(),
          finishedAt: finished.toISOString(),
          durationSeconds: (finished.getTime() - started.getTime()) / 1000,
          code,
          message,
        }),
      );
      throw err;
    }
  });
}

/** The backup itself, for callers that hold the run lock already; records no status. */
export async function backupUnlocked(
  ctx: BackupContext,
  options: RunBackupOptions,
  started: Date = ctx.now(),
): Promise<BackupSuccess> {
  const restic = requireRestic(ctx);
  const phase = options.onPhase ?? (() => undefined);
  return withBackupMount(ctx.target.repository?.mount, async () => {
    phase('checks');
    // A dump can take long: the repository and password are checked first, beside the database
    // check and the file scan. Without a database the backup call itself checks them: each restic
    // call pays the password's key derivation (scrypt, 0.2–0.9 s), as much as an incremental
    // backup's own work (a local repository opened before is checked on the filesystem instead).
    // Meanwhile the dump's transaction opens and the dump directory is readied: nothing is
    // written before the check passed.
    const pg = ctx.postgres;
    const repository = pg === undefined ? undefined : restic.exists();
    repository?.catch(() => undefined);
    const pending = pg?.beginDump();
    pending?.catch(() => undefined);
    const dumpDir = pg?.readyDumpDir();
    dumpDir?.catch(() => undefined);
    // The check reads the dump's own snapshot, in its session.
    const checkValue = options.skipGuards === true ? undefined : pending?.then((p) => p.check(options.nonEmptySql));
    checkValue?.catch(() => undefined);
    let ok = false;
    try {
      const view = await volumeView(ctx.target.volumes, ctx.log);
      try {
        const dump = pending === undefined ? undefined : { pending: await pending, dir: await dumpDir };
        const result = await backupFrom(ctx, options, { restic, phase, started, view, checkValue, repository, dump });
        ok = true;
        return result;
      } finally {
        await view.release();
      }
    } finally {
      // A failed backup does not wait for the stats query its dump no longer needs.
      const closing = pending?.then((p) => p.close());
      if (ok) await closing;
      else closing?.catch(() => undefined);
    }
  });
}

/** The backup once the volumes' view is chosen: manifest, dump, env.yml and files into one snapshot. */
async function backupFrom(
  ctx: BackupContext,
  options: RunBackupOptions,
  at: {
    restic: Restic;
    phase: (phase: BackupPhase) => void;
    started: Date;
    view: VolumeView;
    /** The "not empty" check's value (undefined: no database, or guards skipped). */
    checkValue: Promise<string> | undefined;
    /** Whether the repository exists (it opened with the password), checked meanwhile. */
    repository: Promise<boolean> | undefined;
    /** The database's dump, begun, and the dump directory when the container mounts it. */
    dump: { pending: PendingDump; dir: string | undefined } | undefined;
  },
): Promise<BackupSuccess> {
  const { restic, phase, started, view } = at;
  const { target } = ctx;
  const paths = backupPaths(ctx.dir);
  // Frozen volumes: manifest, dump and env.yml go beside their snapshots, where restic runs.
  const staging = view.frozen?.stage ?? paths.staging;
  // The scan reads only: it starts at once, beside the checks and the dump.
  const stopScan = new AbortController();
  const scanning = loadHashCache(paths.hashes).then(async (cache) => ({
    cache,
    scan: await scanVolumes(view.roots, cache, stopScan.signal),
  }));
  scanning.catch(() => undefined);
  let dumping: Promise<DatabaseManifest> | undefined;
  const dumpDir = at.dump?.dir;
  try {
    if (view.frozen === undefined) {
      await rm(paths.staging, { recursive: true, force: true });
      await mkdir(paths.staging, { recursive: true, mode: 0o700 });
    }
    // The repository and its password are proven before the database is dumped; the dump then
    // runs while the emptiness check ends and the files are scanned, then beside the table
    // stats. An empty database is refused below, after its (small) dump, which is discarded.
    const exists = await at.repository;
    const pg = ctx.postgres;
    if (pg !== undefined && at.dump !== undefined) {
      dumping = dumpInto(at.dump.pending, pg.database, dumpDir ?? staging, dumpDir !== undefined, options.signal);
      dumping.catch(() => undefined);
    }
    const checkValue = await at.checkValue;
    phase('scan');
    const { cache, scan } = await scanning;
    // The table stats join pg_dump now: all three at once starve pg_dump on 2 cores.
    if (dumping !== undefined) at.dump?.pending.readStats();
    const refusal =
      options.skipGuards === true
        ? undefined
        : guardBackup({
            ...(pg === undefined || checkValue === undefined ? {} : { database: { name: pg.database, checkValue } }),
            volumes: target.volumes,
            files: scan.files.length,
          });
    if (refusal !== undefined) throw new AgentError(refusal.code, refusal.message, { data: refusal.data });
    // Only a backup that passed the guards creates a missing repository.
    if (exists === false) await createRepository(ctx, restic);

    const manifest: BackupManifest = {
      format: 1,
      appliance: target.appliance,
      revision: target.revision,
      createdAt: started.toISOString(),
      volumes: scan.volumes,
      files: scan.files,
      env: options.envYml !== undefined,
    };
    const snapshotPaths = [path.basename(SNAPSHOT_LAYOUT.manifest)];
    if (dumping !== undefined) {
      phase('dump');
      manifest.database = await dumping;
      // A dump in the dump directory is stored at its own (absolute) path; the manifest says where.
      snapshotPaths.push(dumpDir === undefined ? path.basename(SNAPSHOT_LAYOUT.dbDir) : manifest.database.dump);
    }
    if (options.envYml !== undefined) {
      const envDir = path.join(staging, path.dirname(SNAPSHOT_LAYOUT.env).slice(1));
      await mkdir(envDir, { mode: 0o700 });
      await writeFile(path.join(staging, SNAPSHOT_LAYOUT.env.slice(1)), options.envYml, { mode: 0o600 });
      snapshotPaths.push(path.dirname(SNAPSHOT_LAYOUT.env).slice(1));
    }
    await writeFile(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest)}\n`, { mode: 0o600 });
    snapshotPaths.push(...(view.frozen?.paths ?? target.volumes.map((v) => v.hostPath)));

    phase('upload');
    const request: BackupRequest = {
      paths: snapshotPaths,
      cwd: staging,
      host: target.appliance,
      tags: [...snapshotTags(target.appliance, target.revision), ...(options.extraTags ?? [])],
      excludes: view.roots.flatMap((v) => RESTORE_WORK_DIRS.map((d) => path.join(v.root, d))),
      onError: (item, message) => {
        ctx.log.warn({ item, err: message }, 'restic could not read a file');
      },
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.time === undefined ? {} : { time: options.time }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    // The hashes are saved meanwhile: they hold whether or not the upload succeeds.
    const saving = saveHashCache(paths.hashes, cache);
    saving.catch(() => undefined);
    const summary = await backupOrCreate(ctx, restic, request, at.repository === undefined);
    await saving;
    let forgotten = 0;
    let retentionError: string | undefined;
    if (options.prune === true) {
      phase('retention');
      try {
        forgotten = (await applyRetention(ctx)).forgotten;
      } catch (err) {
        // The backup itself is good; a failed retention is reported and retried next time.
        retentionError = restic.scrub(describeError(err));
        ctx.log.warn({ err: retentionError }, 'backup retention failed');
      }
    }
    const finished = ctx.now();
    const success: BackupSuccess = {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: (finished.getTime() - started.getTime()) / 1000,
      snapshotId: summary.snapshotId,
      revision: target.revision,
      bytesAdded: summary.dataAdded,
      filesNew: summary.filesNew,
      filesChanged: summary.filesChanged,
      totalBytes: summary.totalBytesProcessed,
      totalFiles: summary.totalFilesProcessed,
      forgotten,
    };
    if (retentionError !== undefined) success.retentionError = retentionError;
    return success;
  } finally {
    // A failed backup still waits for its dump and scan: the staging directory is removed after them.
    stopScan.abort();
    await dumping?.catch(() => undefined);
    await scanning.catch(() => undefined);
    await rm(paths.staging, { recursive: true, force: true });
    // The dump holds the data: it does not outlive its upload, nor a failed one.
    if (dumpDir !== undefined) await emptyDumpDir(dumpDir);
  }
}

/**
 * The database dumped into the staging directory's `db/` (stored as `/db/<name>.dump`), or
 * straight into the dump directory (stored at its path there), described for the manifest.
 */
async function dumpInto(
  pending: PendingDump,
  database: string,
  dir: string,
  direct: boolean,
  signal?: AbortSignal,
): Promise<DatabaseManifest> {
  const name = path.basename(dumpPathOf(database));
  if (direct) {
    const file = path.join(dir, name);
    return { ...(await pending.write(file, signal)), dump: file };
  }
  const dbDir = path.join(dir, path.basename(SNAPSHOT_LAYOUT.dbDir));
  await mkdir(dbDir, { mode: 0o700 });
  return { ...(await pending.write(path.join(dbDir, name), signal)), dump: dumpPathOf(database) };
}

async function createRepository(ctx: BackupContext, restic: Restic): Promise<void> {
  await restic.init();
  ctx.log.info('created the backup repository');
}

/** `restic backup`; when the repository was not checked before, a missing one is created and the backup run again. */
async function backupOrCreate(
  ctx: BackupContext,
  restic: Restic,
  request: BackupRequest,
  unchecked: boolean,
): Promise<ResticBackupSummary> {
  try {
    return await restic.backup(request);
  } catch (err) {
    if (!unchecked || !isAgentError(err, 'BackupRepositoryMissing')) throw err;
    await createRepository(ctx, restic);
    return restic.backup(request);
  }
}
