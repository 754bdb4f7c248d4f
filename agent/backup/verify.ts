import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { compareFiles, type Mismatch } from '../core/backup-manifest.ts';
import { checkFinished, restoreTestFinished, type RestoreTestRecord } from '../core/backup-status.ts';
import { AgentError, describeError, isAgentError } from '../core/errors.ts';
import { withBackupMount } from '../drivers/restic/mount.ts';
import { backupPaths, requireRestic, withJob, type BackupContext } from './context.ts';
import { scanVolumes } from './file-manifest.ts';
import { stageDatabaseFromSnapshot } from './restore-database.ts';
import { readManifest, resolveSnapshot } from './restic-snapshots.ts';

export interface CheckOutcome {
  ok: boolean;
  /** restic's error report when not ok. */
  message: string;
  durationSeconds: number;
}

/**
 * `restic check` (optionally reading a subset of the data) after removing stale locks; the
 * result is recorded in the status. Corruption is a result (`ok: false`), not an exception;
 * a repository that cannot be opened throws.
 */
export async function checkRepository(
  ctx: BackupContext,
  options: { readDataSubset?: string; signal?: AbortSignal } = {},
): Promise<CheckOutcome> {
  const restic = requireRestic(ctx);
  return withJob(ctx, 'check', async () => {
    const started = ctx.now();
    let outcome: CheckOutcome;
    try {
      const r = await withBackupMount(ctx.target.repository?.mount, async () => {
        if (!(await restic.exists())) {
          throw new AgentError('BackupRepositoryMissing', 'there is no backup repository at the configured location');
        }
        return restic.check(options);
      });
      outcome = { ok: r.ok, message: r.ok ? 'no errors were found' : r.output, durationSeconds: 0 };
    } catch (err) {
      outcome = { ok: false, message: restic.scrub(describeError(err)), durationSeconds: 0 };
      await record(ctx, started, outcome);
      throw err;
    }
    return record(ctx, started, outcome);
  });
}

async function record(ctx: BackupContext, started: Date, outcome: CheckOutcome): Promise<CheckOutcome> {
  const finished = ctx.now();
  const durationSeconds = (finished.getTime() - started.getTime()) / 1000;
  await ctx.status.update(finished, (s) =>
    checkFinished(s, {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds,
      ok: outcome.ok,
      message: outcome.message,
    }),
  );
  if (!outcome.ok) ctx.log.error({ err: outcome.message }, 'backup repository check found errors');
  return { ...outcome, durationSeconds };
}

export interface RestoreTestResult {
  ok: boolean;
  snapshot: string;
  tables: number;
  rows: number;
  files: number;
  mismatches: Mismatch[];
  durationSeconds: number;
}

/**
 * The periodic proof that backups restore: the snapshot's files go to a scratch directory and
 * its dump into a scratch database on the same server; both are compared with the manifest
 * recorded at backup time (file sha256, row counts and checksums per table), then removed.
 */
export async function restoreTest(ctx: BackupContext, options: { snapshot?: string } = {}): Promise<RestoreTestResult> {
  const restic = requireRestic(ctx);
  return withJob(ctx, 'restore-test', async () => {
    const started = ctx.now();
    let snapshotId: string | undefined;
    try {
      const result = await withBackupMount(ctx.target.repository?.mount, async () => {
        const listing = await resolveSnapshot(ctx, options.snapshot);
        snapshotId = listing.id;
        const manifest = await readManifest(restic, listing.id);
        const mismatches: Mismatch[] = [];
        const scratchRoot = backupPaths(ctx.dir).scratch;
        await mkdir(scratchRoot, { recursive: true, mode: 0o700 });
        const scratch = await mkdtemp(path.join(scratchRoot, 'restore-test-'));
        try {
          if (manifest.volumes.length > 0) {
            await restic.restore(
              listing.id,
              scratch,
              manifest.volumes.map((v) => v.path),
            );
            const scan = await scanVolumes(
              manifest.volumes.map((v) => ({ name: v.name, root: path.join(scratch, v.path) })),
            );
            mismatches.push(...compareFiles(manifest.files, scan.files));
          }
        } finally {
          await rm(scratch, { recursive: true, force: true });
        }
        let tables = 0;
        let rows = 0;
        if (manifest.database !== undefined) {
          if (ctx.postgres === undefined) {
            mismatches.push({ kind: 'table', name: '*', expected: 'a database', actual: 'the app has none' });
          } else {
            const db = await stageDatabaseFromSnapshot(
              ctx.postgres,
              restic,
              listing.id,
              manifest.database,
              'restore_test',
            );
            await ctx.postgres.dropDatabase(db.name);
            mismatches.push(...db.mismatches);
            tables = db.tables;
            rows = db.rows;
          }
        }
        const finished = ctx.now();
        return {
          ok: mismatches.length === 0,
          snapshot: listing.id,
          tables,
          rows,
          files: manifest.files.length,
          mismatches,
          durationSeconds: (finished.getTime() - started.getTime()) / 1000,
        };
      });
      if (!result.ok)
        ctx.log.error({ mismatches: result.mismatches.slice(0, 20) }, 'backup restore test found differences');
      await recordTest(ctx, started, {
        ok: result.ok,
        snapshotId: result.snapshot,
        tables: result.tables,
        rows: result.rows,
        files: result.files,
        mismatches: result.mismatches.length,
        message: result.ok
          ? `${result.files} files and ${result.tables} tables identical`
          : result.mismatches
              .slice(0, 5)
              .map((m) => `${m.kind} ${m.name}: expected ${m.expected}, found ${m.actual}`)
              .join('; '),
      });
      return result;
    } catch (err) {
      const message = restic.scrub(describeError(err));
      await recordTest(ctx, started, {
        ok: false,
        ...(snapshotId === undefined ? {} : { snapshotId }),
        tables: 0,
        rows: 0,
        files: 0,
        mismatches: 0,
        message: isAgentError(err) ? `${err.code}: ${message}` : message,
      });
      throw err;
    }
  });
}

async function recordTest(
  ctx: BackupContext,
  started: Date,
  test: Omit<RestoreTestRecord, 'startedAt' | 'finishedAt' | 'durationSeconds'>,
): Promise<void> {
  const finished = ctx.now();
  await ctx.status.update(finished, (s) =>
    restoreTestFinished(s, {
      ...test,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    }),
  );
}
