import { Cron } from 'croner';
import type { DesiredState } from '../../core/desired.ts';
import { cronZone } from '../../core/cron.ts';
import type { AgentStatus } from '../../core/status.ts';
import type { RepoReader } from '../../config/load.ts';
import type { MachineDriver } from '../../core/executors.ts';
import { expireDesiredSnapshots } from '../../machine/snapshot-expiry.ts';
import { converge, type ApplyResult } from './converge.ts';
import { desiredStates, fetchTarget, type DesiredDeps } from './desired.ts';
import { outcomeOf, outcomeOfError, stalledOutcome } from './report.ts';
import type { Cycle } from './schedule.ts';

export type { CycleSource } from './desired.ts';

export interface CycleDeps extends DesiredDeps {
  /** A machine driver for this desired state (registry credentials come from env.yml). */
  driverFor: (desired: DesiredState) => MachineDriver;
  stateDir: string;
  status: () => AgentStatus;
  /** After a revision is applied (or confirmed), with the reader of its commit. */
  onApplied?: (desired: DesiredState, reader: RepoReader) => Promise<void>;
  /**
   * Why the machine must be left alone now (a restore in another process stops the app, and
   * drift correction would start it again), or undefined. The cycle then waits and retries.
   */
  hold?: () => Promise<{ code: string; message: string } | undefined>;
  /** An interrupted apply of `revision` is about to be recovered (publish it in the status). */
  onRecovering?: (revision: string) => Promise<void>;
}

/**
 * One cycle, in order: source → desired (decrypt, validate) → observe, plan, apply (converge) →
 * report. Whatever
 * fails, the last good desired state is applied again so drift is still corrected, and the
 * outcome reports the failure: a refused commit or invalid config stalls until the branch
 * moves; a failed apply of a revision stalls it (not retried until a new commit) when terminal.
 */
export function createCycle(deps: CycleDeps): Cycle {
  let lastGood: DesiredState | undefined;
  let expiredAt: Date | undefined;
  const expiry = expirySchedule();
  const states = desiredStates(deps);

  return async (_trigger, signal) => {
    const held = await deps.hold?.();
    if (held !== undefined) {
      const revision = deps.status().lastAttemptedRevision;
      return {
        kind: 'failed',
        reason: held.code,
        code: held.code,
        ...(revision === undefined ? {} : { revision }),
        message: held.message,
      };
    }
    // source → desired
    const target = await fetchTarget(deps.source);
    const stalled = deps.status().stalledRevision;
    if (target.revision !== undefined && stalled === target.revision) {
      await keepLastGood('stalled revision', signal);
      const last = deps.status().lastError;
      return stalledOutcome(target.revision, last?.code ?? 'Stalled', last?.message ?? 'revision stalled');
    }
    if (target.reader === undefined || target.revision === undefined) throw target.error;
    const loaded = await states.load(target.revision, target.reader);
    if (!loaded.ok) {
      await keepLastGood('invalid config', signal);
      return stalledOutcome(target.revision, 'ConfigInvalid', loaded.issues);
    }
    // observe → plan → apply
    const result = await apply(loaded.desired, signal);
    if (result.applied) await notifyApplied(loaded.desired, target.reader);
    // report: the source failed but its last accepted revision was applied: report the source error.
    if (target.error !== undefined) return outcomeOfError(target.error);
    return { ...outcomeOf(result), configNotices: loaded.notices };
  };

  async function apply(desired: DesiredState, signal: AbortSignal): Promise<ApplyResult> {
    const result = await converge({
      desired,
      driver: deps.driverFor(desired),
      driverFor: deps.driverFor,
      stateDir: deps.stateDir,
      log: deps.log.child({ revision: desired.revision }),
      signal,
      ...(deps.onRecovering === undefined ? {} : { onRecovering: deps.onRecovering }),
    });
    if (result.applied) {
      lastGood = desired;
      for (const n of result.notices) deps.log.warn({ code: n.code }, n.message);
      const now = new Date();
      if (expiry.due(desired, expiredAt, now)) {
        // Tolerates snapshots already gone; a failure is retried on the next good cycle.
        try {
          await expireDesiredSnapshots(desired, now, deps.log);
          expiredAt = now;
        } catch (err) {
          deps.log.warn({ err }, 'snapshot expiry failed; retried next cycle');
        }
      }
    }
    return result;
  }

  async function notifyApplied(desired: DesiredState, reader: RepoReader): Promise<void> {
    if (deps.onApplied === undefined) return;
    try {
      await deps.onApplied(desired, reader);
    } catch (err) {
      deps.log.warn({ err }, 'after apply: a follower of applied revisions failed');
    }
  }

  /** Whatever fails, the last good desired state is applied again so drift is still corrected. */
  async function keepLastGood(why: string, signal: AbortSignal): Promise<void> {
    if (lastGood === undefined) {
      const found = await states.lastApplied(deps.status().lastAppliedRevision);
      lastGood = found?.desired;
      // After a restart, the revision in force is this one: its followers (backups, reporters) learn it.
      if (found !== undefined) await notifyApplied(found.desired, found.reader);
    }
    if (lastGood === undefined) {
      deps.log.warn({ why }, 'no earlier good revision is known: the machine is left as it is');
      return;
    }
    const result = await apply(lastGood, signal);
    if (!result.applied)
      deps.log.warn({ revision: lastGood.revision, error: result.error }, 'last good revision did not converge');
  }
}

/**
 * schedules.snapshot_expiry: null disables it; otherwise once at start, then when the cron comes
 * due. The next run is worked out once per (schedule, time zone, last run), not on every cycle.
 */
function expirySchedule(): { due(desired: DesiredState, last: Date | undefined, now: Date): boolean } {
  let memo: { key: string; next: Date | null } | undefined;
  return {
    due(desired, last, now) {
      const cron = desired.schedules.snapshot_expiry;
      if (cron === null) return false;
      if (last === undefined) return true;
      const key = `${cron}\n${desired.timezone}\n${last.toISOString()}`;
      if (memo?.key !== key) {
        memo = { key, next: new Cron(cron, { paused: true, ...cronZone(desired.timezone) }).nextRun(last) };
      }
      return memo.next !== null && memo.next <= now;
    },
  };
}
