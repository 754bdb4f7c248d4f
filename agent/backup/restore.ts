import type { Mismatch } from '../core/backup-manifest.ts';
import { AgentError, isAgentError } from '../core/errors.ts';
import { withBackupMount } from '../drivers/restic/mount.ts';
import { requireRestic, withJob, type AppControl, type BackupContext, type StateSnapshotter } from './context.ts';
import { stageDatabaseFromSnapshot, type StagedDatabase } from './restore-database.ts';
import { discardStaged, stageVolumes, swapInVolumes, verifyStaged, type StagedVolume } from './restore-files.ts';
import { backupUnlocked } from './run-backup.ts';
import { readManifest, resolveSnapshot, type BackupListing } from './restic-snapshots.ts';

export type RestorePhase = 'manifest' | 'stop' | 'pre-restore' | 'files' | 'database' | 'swap' | 'start';

export interface RestoreOptions {
  /** Snapshot id or unique prefix; default the latest of the appliance. */
  snapshot?: string;
  /** Stops the app before and starts it after (also after a failure). */
  app?: AppControl;
  /** Takes a snapshot of the current data first (btrfs). */
  snapshotter?: StateSnapshotter;
  /** Without a snapshotter: back up the current state with restic first (default true). */
  preRestoreBackup?: boolean;
  /** For that backup: the encrypted env.yml. */
  envYml?: string;
  onPhase?: (phase: RestorePhase) => void;
}

export interface RestoreResult {
  snapshot: BackupListing;
  /** What keeps the state from before the restore, if there was any. */
  preRestore?: { kind: 'snapshot' | 'backup'; id: string };
  tables: number;
  /** Rows of all tables, the app's bookkeeping (schema_migrations) included: see `tableRows`. */
  rows: number;
  /** Rows per table (`schema.table`), as the backup's manifest has them. */
  tableRows: { table: string; rows: number }[];
  files: number;
  durationSeconds: number;
}

/**
 * `appliance backup restore`: stop the app, keep the current state (snapshot, or a restic
 * backup), restore files and database from the snapshot, prove them equal to its manifest,
 * swap them in, start the app. Until the swap nothing live is touched; a failed swap is undone.
 */
export async function restoreBackup(ctx: BackupContext, options: RestoreOptions = {}): Promise<RestoreResult> {
  return withJob(ctx, 'restore', () => restoreUnlocked(ctx, options));
}

/** The restore itself, for callers that hold the run lock (recovery). */
export async function restoreUnlocked(ctx: BackupContext, options: RestoreOptions): Promise<RestoreResult> {
  return withBackupMount(ctx.target.repository?.mount, () => restoreMounted(ctx, options));
}

async function restoreMounted(ctx: BackupContext, options: RestoreOptions): Promise<RestoreResult> {
  const restic = requireRestic(ctx);
  const started = ctx.now();
  const phase = options.onPhase ?? (() => undefined);
  phase('manifest');
  const listing = await resolveSnapshot(ctx, options.snapshot);
  const manifest = await readManifest(restic, listing.id);
  if (manifest.database !== undefined && ctx.postgres === undefined) {
    throw new AgentError('RestoreNoDatabase', `snapshot ${listing.shortId} has a database but the app has none`, {
      terminal: true,
    });
  }
  let staged: StagedVolume[] = [];
  let db: StagedDatabase | undefined;
  try {
    phase('stop');
    await options.app?.stop();
    phase('pre-restore');
    const preRestore = await keepCurrentState(ctx, options, listing);
    phase('files');
    staged = await stageVolumes(restic, listing.id, manifest, ctx.target.volumes);
    const fileMismatches = await verifyStaged(staged, manifest);
    if (fileMismatches.length > 0) throw verifyError(listing, fileMismatches);
    if (manifest.database !== undefined && ctx.postgres !== undefined) {
      phase('database');
      db = await stageDatabaseFromSnapshot(ctx.postgres, restic, listing.id, manifest.database, 'restore');
      if (db.mismatches.length > 0) throw verifyError(listing, db.mismatches);
    }
    phase('swap');
    const swap = await swapInVolumes(staged);
    try {
      if (db !== undefined) await ctx.postgres?.swapIn(db.name);
    } catch (err) {
      await swap.rollback();
      throw err;
    }
    db = undefined;
    await swap.commit();
    staged = [];
    const finished = ctx.now();
    const result: RestoreResult = {
      snapshot: listing,
      tables: manifest.database?.tables.length ?? 0,
      rows: manifest.database?.tables.reduce((n, t) => n + t.rows, 0) ?? 0,
      tableRows: (manifest.database?.tables ?? []).map((t) => ({ table: t.table, rows: t.rows })),
      files: manifest.files.length,
      durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    };
    if (preRestore !== undefined) result.preRestore = preRestore;
    ctx.log.info({ snapshot: listing.id, files: result.files, tables: result.tables }, 'restored from backup');
    return result;
  } finally {
    await discardStaged(staged);
    if (db !== undefined) await ctx.postgres?.dropDatabase(db.name).catch(() => undefined);
    phase('start');
    await options.app?.start();
  }
}

async function keepCurrentState(
  ctx: BackupContext,
  options: RestoreOptions,
  listing: BackupListing,
): Promise<RestoreResult['preRestore']> {
  if (options.snapshotter !== undefined) {
    const id = await options.snapshotter.snapshot('PRE_RESTORE', `before restoring backup ${listing.shortId}`);
    return { kind: 'snapshot', id };
  }
  if (options.preRestoreBackup === false) return undefined;
  try {
    const backup = await backupUnlocked(ctx, {
      skipGuards: true,
      extraTags: ['kind=pre-restore'],
      ...(options.envYml === undefined ? {} : { envYml: options.envYml }),
    });
    return { kind: 'backup', id: backup.snapshotId };
  } catch (err) {
    // No database at all (a fresh appliance): there is nothing to keep.
    if (isAgentError(err, 'DatabaseMissing')) return undefined;
    throw err;
  }
}

function verifyError(listing: BackupListing, mismatches: readonly Mismatch[]): AgentError {
  const first = mismatches
    .slice(0, 5)
    .map((m) => `${m.kind} ${m.name}: expected ${m.expected}, found ${m.actual}`)
    .join('; ');
  return new AgentError(
    'RestoreVerifyFailed',
    `snapshot ${listing.shortId} does not restore to what it recorded (${mismatches.length} differences): ${first}`,
    { data: { snapshot: listing.id, mismatches: mismatches.slice(0, 50) } },
  );
}
