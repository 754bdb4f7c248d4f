import { applianceTag } from '../core/backup-target.ts';
import { describeError } from '../core/errors.ts';
import { withBackupMount } from '../drivers/restic/mount.ts';
import { requireRestic, withJob, type BackupContext } from './context.ts';

/**
 * Retention without the run lock (the caller holds it): `restic forget --prune` of the
 * appliance's snapshots by appliance.yml policies.backup. The newest `keep_last` always stay,
 * so a manual backup never pushes out the scheduled one taken earlier the same day.
 */
export async function applyRetention(ctx: BackupContext): Promise<{ forgotten: number }> {
  const restic = requireRestic(ctx);
  const p = ctx.target.policy;
  const r = await restic.forget(
    { last: p.keep_last, daily: p.keep_daily, weekly: p.keep_weekly, monthly: p.keep_monthly },
    { host: ctx.target.appliance, tags: [applianceTag(ctx.target.appliance)] },
  );
  return { forgotten: r.remove.length };
}

/**
 * Retention as its own job (schedules.backup_prune), under the run lock: it costs more than an
 * incremental backup, so backups do not pay it every time.
 */
export async function pruneBackups(ctx: BackupContext): Promise<{ forgotten: number }> {
  requireRestic(ctx);
  return withJob(ctx, 'prune', () =>
    withBackupMount(ctx.target.repository?.mount, async () => {
      try {
        const result = await applyRetention(ctx);
        ctx.log.info({ forgotten: result.forgotten }, 'backup retention applied');
        return result;
      } catch (err) {
        ctx.log.warn({ err: describeError(err) }, 'backup retention failed');
        throw err;
      }
    }),
  );
}
