import { Cron } from 'croner';
import { cronZone } from '../core/cron.ts';
import { describeError, isAgentError } from '../core/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { BackupContext } from './context.ts';
import { pruneBackups } from './prune.ts';
import { runBackup } from './run-backup.ts';
import { checkRepository, restoreTest } from './verify.ts';

export type ScheduledJob = 'backup' | 'prune' | 'check' | 'restore-test';

export interface BackupSchedulerOptions {
  log: Logger;
  /** The encrypted env.yml at the time of a backup. */
  envYml?: () => Promise<string | undefined>;
  nonEmptySql?: string;
  /** `restic check --read-data-subset` of scheduled checks (default `5%`). */
  readDataSubset?: string;
  /**
   * Wraps every job, e.g. to run it inside the reconciler's single flight so that a backup
   * never meets an update half applied (default: run as is).
   */
  exclusive?: <T>(job: ScheduledJob, fn: () => Promise<T>) => Promise<T>;
}

/**
 * Runs backup, retention (prune), repository check and restore test on their cron schedules (appliance.yml,
 * in the appliance's zone). Jobs never overlap: croner's `protect` skips a tick while the same
 * job still runs, jobs of different kinds wait for each other, and the run lock keeps out a
 * job started by `appliance backup …` in another process (the tick is then skipped).
 */
export class BackupScheduler {
  private jobs: Cron[] = [];
  private key = '';
  private ctx: BackupContext | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: BackupSchedulerOptions) {}

  /** (Re)schedules for a context: jobs change only when schedules or zone changed. */
  update(ctx: BackupContext): void {
    this.ctx = ctx;
    const { schedules, timezone, repository } = ctx.target;
    const key = JSON.stringify([schedules, timezone, repository === undefined]);
    if (key === this.key || this.stopped) return;
    this.cancel();
    this.key = key;
    if (repository === undefined) {
      this.options.log.warn('env.yml has no backup repository: no backups are scheduled');
      return;
    }
    const plan: [ScheduledJob, string | null][] = [
      ['backup', schedules.backup],
      ['prune', schedules.prune],
      ['check', schedules.check],
      ['restore-test', schedules.restoreTest],
    ];
    for (const [job, pattern] of plan) {
      if (pattern === null) continue;
      this.jobs.push(
        new Cron(pattern, { name: `appliance-${job}`, ...cronZone(timezone), protect: true, mode: '5-part' }, () =>
          this.run(job).then(() => undefined),
        ),
      );
    }
  }

  /** When each scheduled job runs next. */
  nextRuns(): Partial<Record<ScheduledJob, Date>> {
    const out: Partial<Record<ScheduledJob, Date>> = {};
    for (const job of this.jobs) {
      const next = job.nextRun();
      const name = job.name?.replace(/^appliance-/, '') as ScheduledJob | undefined;
      if (next !== null && name !== undefined) out[name] = next;
    }
    return out;
  }

  /**
   * Runs a job now, after any job of this scheduler that is running; resolves true when it
   * ran and succeeded, false when it failed or was skipped (errors are logged, not thrown).
   */
  run(job: ScheduledJob): Promise<boolean> {
    const next = this.chain.then(() => this.runOne(job));
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Stops all schedules; a running job finishes. */
  stop(): Promise<unknown> {
    this.stopped = true;
    this.cancel();
    return this.chain;
  }

  private cancel(): void {
    for (const job of this.jobs) job.stop();
    this.jobs = [];
    this.key = '';
  }

  private async runOne(job: ScheduledJob): Promise<boolean> {
    const exclusive = this.options.exclusive ?? ((_job, fn) => fn());
    try {
      return await exclusive(job, () => this.runNow(job));
    } catch (err) {
      this.options.log.error({ job, err: describeError(err) }, `${job} could not start`);
      return false;
    }
  }

  private async runNow(job: ScheduledJob): Promise<boolean> {
    const ctx = this.ctx;
    if (ctx === undefined || this.stopped) return false;
    const log = this.options.log.child({ job });
    try {
      switch (job) {
        case 'backup': {
          const envYml = await this.options.envYml?.();
          await runBackup(ctx, {
            ...(envYml === undefined ? {} : { envYml }),
            ...(this.options.nonEmptySql === undefined ? {} : { nonEmptySql: this.options.nonEmptySql }),
          });
          return true;
        }
        case 'prune':
          await pruneBackups(ctx);
          return true;
        case 'check':
          return (await checkRepository(ctx, { readDataSubset: this.options.readDataSubset ?? '5%' })).ok;
        case 'restore-test':
          return (await restoreTest(ctx)).ok;
      }
    } catch (err) {
      if (isAgentError(err, 'BackupBusy')) log.warn({ err: describeError(err) }, 'skipped: another backup job runs');
      else log.error({ err: describeError(err), code: isAgentError(err) ? err.code : undefined }, `${job} failed`);
      return false;
    }
  }
}
