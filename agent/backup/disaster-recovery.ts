import { AgentError, isAgentError } from '../core/errors.ts';
import { withJob, type BackupContext } from './context.ts';
import { scanVolumes, volumeRoots } from './file-manifest.ts';
import { stageDatabaseFromFile } from './restore-database.ts';
import { restoreUnlocked, type RestoreResult } from './restore.ts';

/** What the appliance holds: decides whether recovery may run. */
export interface DataState {
  files: number;
  database: 'none' | 'missing' | 'empty' | 'non-empty';
}

export type RecoverOutcome =
  | { kind: 'not-requested' }
  /** Recovery was asked for, but there is data: it is never overwritten (a later start after recovery). */
  | { kind: 'data-present'; data: DataState }
  | { kind: 'recovered-backup'; result: RestoreResult }
  | { kind: 'recovered-dump'; file: string; tables: number; rows: number };

export interface RecoverOptions {
  /** A snapshot id instead of the latest. */
  snapshot?: string;
  nonEmptySql?: string;
}

/** Counts the files of the backed-up volumes and asks the database whether it has data. */
export async function observeData(ctx: BackupContext, nonEmptySql?: string): Promise<DataState> {
  const scan = await scanVolumes(volumeRoots(ctx.target.volumes));
  if (ctx.postgres === undefined) return { files: scan.files.length, database: 'none' };
  try {
    const check = await ctx.postgres.nonEmpty(nonEmptySql);
    return { files: scan.files.length, database: check.nonEmpty ? 'non-empty' : 'empty' };
  } catch (err) {
    if (isAgentError(err, 'DatabaseMissing')) return { files: scan.files.length, database: 'missing' };
    throw err;
  }
}

function isEmpty(data: DataState): boolean {
  return data.files === 0 && data.database !== 'non-empty';
}

/**
 * The start flow's recovery step for env.yml `recover_from_backup` / `recover_from_dump`: on an
 * appliance without data, restore from the repository (or import the dump); with data, do
 * nothing, so the flag can stay set. The app must not be running; the database container must.
 */
export async function recoverIfRequested(ctx: BackupContext, options: RecoverOptions = {}): Promise<RecoverOutcome> {
  const { target } = ctx;
  if (!target.recoverFromBackup && target.recoverFromDump === undefined) return { kind: 'not-requested' };
  return withJob(ctx, 'recover', async () => {
    const data = await observeData(ctx, options.nonEmptySql);
    if (!isEmpty(data)) {
      ctx.log.info({ data }, 'recovery requested, but the appliance has data: keeping it');
      return { kind: 'data-present', data };
    }
    if (target.recoverFromBackup) {
      const result = await restoreUnlocked(ctx, {
        preRestoreBackup: false,
        ...(options.snapshot === undefined ? {} : { snapshot: options.snapshot }),
      });
      return { kind: 'recovered-backup', result };
    }
    const file = target.recoverFromDump as string;
    const r = await importDump(ctx, file);
    return { kind: 'recovered-dump', file, ...r };
  });
}

/** Recovers from the repository on an appliance without data; `RecoverDataPresent` otherwise. */
export async function recoverFromBackup(ctx: BackupContext, options: RecoverOptions = {}): Promise<RestoreResult> {
  return withJob(ctx, 'recover', async () => {
    const data = await observeData(ctx, options.nonEmptySql);
    if (!isEmpty(data)) throw dataPresent(data);
    return restoreUnlocked(ctx, {
      preRestoreBackup: false,
      ...(options.snapshot === undefined ? {} : { snapshot: options.snapshot }),
    });
  });
}

/** Imports a dump file (pg_dump custom format, gzipped or not) into an empty database. */
export async function recoverFromDump(
  ctx: BackupContext,
  file: string,
  options: RecoverOptions = {},
): Promise<{ tables: number; rows: number }> {
  return withJob(ctx, 'recover', async () => {
    const data = await observeData(ctx, options.nonEmptySql);
    if (data.database === 'non-empty') throw dataPresent(data);
    return importDump(ctx, file);
  });
}

async function importDump(ctx: BackupContext, file: string): Promise<{ tables: number; rows: number }> {
  const pg = ctx.postgres;
  if (pg === undefined) {
    throw new AgentError('RestoreNoDatabase', 'recover_from_dump is set but the app has no database', {
      terminal: true,
    });
  }
  const next = await stageDatabaseFromFile(pg, file, 'restore');
  await pg.swapIn(next);
  const stats = await pg.tableStats();
  ctx.log.info({ file, tables: stats.length }, 'imported the database dump');
  return { tables: stats.length, rows: stats.reduce((n, t) => n + t.rows, 0) };
}

function dataPresent(data: DataState): AgentError {
  return new AgentError(
    'RecoverDataPresent',
    `refusing to recover over existing data (${data.files} files, database ${data.database}); use backup restore`,
    { terminal: true, data: { ...data } },
  );
}
