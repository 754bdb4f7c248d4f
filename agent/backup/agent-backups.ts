import path from 'node:path';
import { backupMissed, type BackupView } from '../core/backup-status.ts';
import { backupTargetOf, type BackupTarget } from '../core/backup-target.ts';
import type { DesiredState } from '../core/desired.ts';
import type { RecoverData } from '../machine/disaster-recovery-step.ts';
import type { Logger } from '../lib/log.ts';
import type { SecretRegistry } from '../lib/secrets.ts';
import { createBackupContext, type BackupContext } from './context.ts';
import { recoverIfRequested } from './disaster-recovery.ts';
import { lockHolder, type LockHolder } from './run-lock.ts';
import { BackupScheduler } from './scheduler.ts';
import { BackupStatusStore } from './status-store.ts';

export interface AgentBackupsOptions {
  /** The agent's state directory (backups keep theirs in `backup/` below it). */
  stateDir: string;
  log: Logger;
  secrets: SecretRegistry;
  /** Runs a job while no reconcile cycle runs and keeps cycles out until it ends. */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  now?: () => Date;
}

/** Jobs of another process that the reconcile loop must not run beside: they stop the app. */
const HOLDING_JOBS = new Set(['restore', 'recover']);

/**
 * The daemon's side of backups: schedules follow the applied desired state, jobs run exclusive
 * of reconcile cycles, the status feeds /status and /metrics, and a restore started by
 * `appliance backup restore` in another process holds the reconcile loop.
 */
export class AgentBackups {
  private readonly scheduler: BackupScheduler;
  private readonly store: BackupStatusStore;
  private readonly dir: string;
  private readonly now: () => Date;
  private target: BackupTarget | undefined;
  private revision: string | undefined;
  private envYml: string | undefined;

  constructor(private readonly options: AgentBackupsOptions) {
    this.dir = path.join(options.stateDir, 'backup');
    this.store = new BackupStatusStore(this.dir);
    this.now = options.now ?? (() => new Date());
    this.scheduler = new BackupScheduler({
      log: options.log.child({ component: 'backup' }),
      envYml: () => Promise.resolve(this.envYml),
      exclusive: (_job, fn) => options.exclusive(fn),
    });
  }

  /**
   * After a revision is applied: its targets, schedules and (encrypted) env.yml, read only when
   * the revision is new (a no-op cycle does no I/O here).
   */
  async update(desired: DesiredState, readEnvYml: () => Promise<string | undefined>): Promise<void> {
    if (desired.revision === this.revision) return;
    this.envYml = await readEnvYml();
    const first = this.revision === undefined;
    this.revision = desired.revision;
    this.target = backupTargetOf(desired);
    this.scheduler.update(agentContext(this.target, this.options));
    // The age of a first backup that never comes is measured from here (BackupMissed).
    if (first) await this.store.update(this.now(), (s) => s);
  }

  /** The backup part of /status, or undefined before a revision was applied. */
  async view(): Promise<BackupView | undefined> {
    const target = this.target;
    if (target === undefined) return undefined;
    const now = this.now();
    const status = await this.store.read(now);
    const configured = target.repository !== undefined;
    const next = this.scheduler.nextRuns();
    return {
      configured,
      next: {
        ...(next.backup === undefined ? {} : { backup: next.backup.toISOString() }),
        ...(next.prune === undefined ? {} : { prune: next.prune.toISOString() }),
        ...(next.check === undefined ? {} : { check: next.check.toISOString() }),
        ...(next['restore-test'] === undefined ? {} : { restoreTest: next['restore-test'].toISOString() }),
      },
      condition: backupMissed(status, { configured, maxAgeHours: target.policy.max_age_hours }, now),
      status,
    };
  }

  /** A restore or recovery another process runs now: the reconcile loop must wait for it. */
  async holder(): Promise<LockHolder | undefined> {
    const holder = await lockHolder(this.dir);
    return holder !== undefined && holder.pid !== process.pid && HOLDING_JOBS.has(holder.job) ? holder : undefined;
  }

  /** Stops the schedules; a running job finishes. */
  stop(): Promise<unknown> {
    return this.scheduler.stop();
  }
}

type ContextOptions = Pick<AgentBackupsOptions, 'stateDir' | 'log' | 'secrets'>;

/** A backup context with the agent's state directory, log and secret registry. */
function agentContext(target: BackupTarget, options: ContextOptions): BackupContext {
  return createBackupContext(target, { stateDir: options.stateDir, log: options.log, secrets: options.secrets });
}

/** Recovery of a fresh appliance (the `data.recover` step) with the agent's state directory. */
export function dataRecovery(options: ContextOptions): RecoverData {
  return (desired) => recoverIfRequested(agentContext(backupTargetOf(desired), options));
}
