import type { SnapshotInfo } from '../core/actual.ts';
import type { DesiredState } from '../core/desired.ts';
import { describeError } from '../core/errors.ts';
import type { SnapshotDriver } from '../drivers/snapshot/driver.ts';
import { openSnapshots } from '../drivers/snapshot/store.ts';
import type { Logger } from '../lib/log.ts';
import { storageLayout } from './storage-layout.ts';

/** What one expiry run did. */
export interface ExpiryResult {
  deleted: string[];
  /** Expired, but gone already (deleted by hand or by an earlier, interrupted run). */
  missing: string[];
  /** Expired, but kept: named in policies.rollback.allow_snapshot_restore. */
  kept: string[];
  /** Expired, but deleting failed (retried next run). */
  failed: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * PRE_MIGRATE and PRE_RESTORE snapshots (both kept only to undo one change) older than
 * `policies.snapshots.pre_migrate_expiry_days` (default 7) at `now`.
 */
export function expiredSnapshots(snapshots: readonly SnapshotInfo[], desired: DesiredState, now: Date): SnapshotInfo[] {
  const days =
    (desired.policies.snapshots as { pre_migrate_expiry_days?: number } | undefined)?.pre_migrate_expiry_days ?? 7;
  return snapshots.filter(
    (s) =>
      (s.kind === 'PRE_MIGRATE' || s.kind === 'PRE_RESTORE') && now.getTime() - Date.parse(s.createdAt) > days * DAY_MS,
  );
}

/**
 * Deletes expired PRE_MIGRATE snapshots (for the `snapshot_expiry` schedule). Works from
 * `listed` when given (e.g. the last observation), else lists; a snapshot that is gone by the
 * time it is deleted counts as `missing`, not as an error, and a failed deletion does not stop
 * the others. The snapshot `policies.rollback.allow_snapshot_restore` names is kept.
 */
export async function expireSnapshots(options: {
  snapshots: SnapshotDriver;
  desired: DesiredState;
  now: Date;
  log: Logger;
  listed?: readonly SnapshotInfo[];
}): Promise<ExpiryResult> {
  const { snapshots, desired, now, log } = options;
  const result: ExpiryResult = { deleted: [], missing: [], kept: [], failed: [] };
  const named = (desired.policies.rollback as { allow_snapshot_restore?: string | null } | undefined)
    ?.allow_snapshot_restore;
  const listed = options.listed ?? (await snapshots.list());
  for (const s of expiredSnapshots(listed, desired, now)) {
    if (s.name === named) {
      result.kept.push(s.name);
      continue;
    }
    try {
      if (await snapshots.delete(s.name)) result.deleted.push(s.name);
      else result.missing.push(s.name);
    } catch (err) {
      result.failed.push(s.name);
      log.error({ snapshot: s.name, err: describeError(err) }, 'deleting an expired snapshot failed');
    }
  }
  await snapshots.sweep();
  if (result.deleted.length + result.missing.length + result.failed.length > 0) {
    log.info({ ...result }, 'expired PRE_MIGRATE snapshots');
  }
  return result;
}

/**
 * The `snapshot_expiry` job for a desired state: expires the PRE_MIGRATE snapshots under its
 * data path (nothing when the app has no data volumes).
 */
export async function expireDesiredSnapshots(
  desired: DesiredState,
  now: Date,
  log: Logger,
  open: (root: string) => Promise<SnapshotDriver> = openSnapshots,
): Promise<ExpiryResult> {
  const layout = storageLayout(desired);
  if (layout === undefined) return { deleted: [], missing: [], kept: [], failed: [] };
  return expireSnapshots({ snapshots: await open(layout.root), desired, now, log });
}
