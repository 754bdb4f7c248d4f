import { Cron } from 'croner';
import type { DesiredState } from '../core/desired.ts';
import { secretValues } from '../core/desired.ts';
import { cronZone } from '../core/cron.ts';
import { AgentError, isAgentError } from '../core/errors.ts';
import { formatIssue } from '../core/result.ts';
import type { CycleOutcome, AgentStatus, Notice } from '../core/status.ts';
import { planJson } from '../core/plan-render.ts';
import { loadDesired, type DecryptEnv, type RepoReader } from '../config/load.ts';
import type { Logger } from '../lib/log.ts';
import type { SecretRegistry } from '../lib/secrets.ts';
import { applyOnce, type ApplyResult } from './converge.ts';
import { expireDesiredSnapshots } from '../machine/snapshot-expiry.ts';
import type { MachineDriver } from '../core/executors.ts';
import type { Cycle } from './reconciler.ts';

/** What the cycle needs of the config source (GitSource in production). */
export interface CycleSource {
  sync(): Promise<{ revision: string; reader: RepoReader }>;
  current(): Promise<{ revision: string; reader: RepoReader } | undefined>;
  /** An earlier revision still in the local store (the last applied one after a restart). */
  at?(revision: string): Promise<{ revision: string; reader: RepoReader } | undefined>;
}

export interface CycleDeps {
  name: string;
  source: CycleSource;
  decrypt: DecryptEnv;
  /** A machine driver for this desired state (registry credentials come from env.yml). */
  driverFor: (desired: DesiredState) => MachineDriver;
  stateDir: string;
  log: Logger;
  secrets: SecretRegistry;
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
 * One cycle, gates in order: source → desired (decrypt, validate) → apply → verify. Whatever
 * fails, the last good desired state is applied again so drift is still corrected, and the
 * outcome reports the failure: a refused commit or invalid config stalls until the branch
 * moves; a failed apply of a revision stalls it (not retried until a new commit) when terminal.
 */
export function createCycle(deps: CycleDeps): Cycle {
  let lastGood: DesiredState | undefined;
  // A commit's files never change and the identities are fixed for the process: a revision
  // loaded once is not read, decrypted and validated again on every poll.
  let loaded: DesiredState | undefined;
  // Its warnings (settings the agent ignores, …): logged once, shown in /status as notices.
  let loadedNotices: Notice[] = [];
  let expiredAt: Date | undefined;
  const expiry = expirySchedule();

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
    const target = await fetchTarget(deps);
    const stalled = deps.status().stalledRevision;
    if (target.revision !== undefined && stalled === target.revision) {
      await keepLastGood('stalled revision', signal);
      const last = deps.status().lastError;
      return stalledOutcome(target.revision, last?.code ?? 'Stalled', last?.message ?? 'revision stalled');
    }
    if (target.reader === undefined || target.revision === undefined) throw target.error;

    if (loaded?.revision !== target.revision) {
      const result = await loadDesired(target.reader, deps.name, { decrypt: deps.decrypt, revision: target.revision });
      if (!result.ok) {
        await keepLastGood('invalid config', signal);
        const message = result.errors.map(formatIssue).join('; ');
        return stalledOutcome(target.revision, 'ConfigInvalid', message);
      }
      loaded = result.value;
      deps.secrets.add(...secretValues(loaded));
      loadedNotices = result.warnings.map((w) => ({ code: 'ConfigWarning', message: formatIssue(w) }));
      for (const n of loadedNotices) deps.log.warn({ revision: target.revision }, n.message);
    }
    const desired = loaded;
    const result = await apply(desired, signal);
    if (result.applied) await notifyApplied(desired, target.reader);
    if (target.error !== undefined) {
      // The source failed but its last accepted revision was applied: report the source error.
      return fromError(target.error, target.error instanceof AgentError ? refusedRevision(target.error) : undefined);
    }
    return { ...outcomeOf(result), configNotices: loadedNotices };
  };

  async function apply(desired: DesiredState, signal: AbortSignal): Promise<ApplyResult> {
    const result = await applyOnce({
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

  async function keepLastGood(why: string, signal: AbortSignal): Promise<void> {
    if (lastGood === undefined) {
      const found = await loadLastApplied();
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

  /** After a restart the last applied revision is read again from the local git store. */
  async function loadLastApplied(): Promise<{ desired: DesiredState; reader: RepoReader } | undefined> {
    const revision = deps.status().lastAppliedRevision;
    if (revision === undefined || deps.source.at === undefined) return undefined;
    try {
      const found = await deps.source.at(revision);
      if (found === undefined) return undefined;
      const loaded = await loadDesired(found.reader, deps.name, { decrypt: deps.decrypt, revision });
      if (!loaded.ok) return undefined;
      deps.secrets.add(...secretValues(loaded.value));
      deps.log.info({ revision }, 'the last applied revision is in force again');
      return { desired: loaded.value, reader: found.reader };
    } catch (err) {
      deps.log.warn({ err, revision }, 'the last applied revision could not be read again');
      return undefined;
    }
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

interface Target {
  revision?: string;
  reader?: RepoReader;
  error?: unknown;
}

/** The new head, or — when the source fails — the last accepted revision plus the error. */
async function fetchTarget(deps: CycleDeps): Promise<Target> {
  try {
    return await deps.source.sync();
  } catch (err) {
    const current = await deps.source.current().catch(() => undefined);
    if (current === undefined) return { error: err };
    return { ...current, error: err };
  }
}

function outcomeOf(result: ApplyResult): CycleOutcome {
  if (result.unhealthy !== undefined) {
    // The revision is running (kept by the rollback policy), but not healthy: it stalls.
    const { code, message } = result.unhealthy;
    const notices = result.notices.length > 0 ? { notices: result.notices } : {};
    return { kind: 'stalled', revision: result.revision, reason: code, code, message, applied: true, ...notices };
  }
  if (result.applied) {
    if (result.changeSet.length === 0) return { kind: 'unchanged', revision: result.revision };
    return {
      kind: 'applied',
      revision: result.revision,
      steps: result.changeSet.length,
      plan: JSON.parse(planJson(result.plan)) as unknown,
      notices: result.notices,
    };
  }
  const error = result.error ?? { code: 'NotConverged', message: 'the machine did not converge', terminal: false };
  const base = { revision: result.revision, reason: error.code, code: error.code, message: error.message };
  if (!error.terminal) return { kind: 'failed', ...base };
  return { kind: 'stalled', ...base, ...(result.notices.length > 0 ? { notices: result.notices } : {}) };
}

function fromError(err: unknown, revision: string | undefined): CycleOutcome {
  const code = isAgentError(err) ? err.code : 'InternalError';
  const message = err instanceof Error ? err.message : String(err);
  const terminal = isAgentError(err) && err.terminal;
  const base = { reason: code, code, message };
  const kind = terminal ? 'stalled' : 'failed';
  return revision === undefined ? { kind, ...base } : { kind, revision, ...base };
}

function stalledOutcome(revision: string, code: string, message: string): CycleOutcome {
  return { kind: 'stalled', revision, reason: code, code, message };
}

/** The commit a source refused (signature, rewind), so the stall is tied to it. */
function refusedRevision(err: AgentError): string | undefined {
  const commit = err.data['commit'] ?? err.data['to'];
  return typeof commit === 'string' ? commit : undefined;
}
