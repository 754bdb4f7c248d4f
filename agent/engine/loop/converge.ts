import { inventoryOf, mergeInventories, type ActualState } from '../../core/actual.ts';
import type { DesiredState } from '../../core/desired.ts';
import { AgentError } from '../../core/errors.ts';
import { isErrorCode } from '../../core/error-codes.ts';
import { hostPathsOf } from '../../core/normalize.ts';
import { describeAge } from '../../core/plan-migrate.ts';
import { downloadPhase, plan, type Plan } from '../../core/plan.ts';
import type { Step } from '../../core/steps.ts';
import { classifyFailedApply } from '../../core/update-failure.ts';
import {
  brokenAfterTraffic,
  fallbackDesired,
  keptBrokenMessage,
  migratedBackMessage,
  noReverseMigration,
  restoreSnapshotNotice,
  type BrokenAfterTraffic,
} from '../../core/failure-after-traffic.ts';
import type { Logger } from '../../lib/log.ts';
import { applyPlan, type ApplyOutcome, type Change } from './apply.ts';
import type { MachineDriver } from '../../core/executors.ts';
import { Journal, isInterrupted, type JournalOptions, type JournalRecord } from './journal.ts';
import { recoverInterrupted, type Recovery } from './crash-recovery.ts';
import { loadSpecKey, readInventory, readMigratedBack, writeInventory, writeMigratedBack } from '../state-files.ts';

/**
 * Image pulls at once in the download phase: a first start pulls every image, and one pull
 * alone leaves the link or a CPU (unpacking) idle; Docker downloads a pull's layers 3 at a time.
 */
const PARALLEL_DOWNLOADS = 3;

export interface ConvergeOptions {
  desired: DesiredState;
  driver: MachineDriver;
  /**
   * A driver for another desired state: the previous version, when the desired one broke after
   * taking traffic and is migrated back. Without it such a version is kept (and stalls).
   */
  driverFor?: (desired: DesiredState) => MachineDriver;
  /** The agent's state directory: journal.json, inventory.json, migrations.json, spec-key, secrets/. */
  stateDir: string;
  log: Logger;
  signal?: AbortSignal;
  now?: () => Date;
  /** Told before an interrupted apply is recovered (the status must stop saying Ready). */
  onRecovering?: (revision: string) => Promise<void>;
  /** Test hook of the journal (see JournalOptions.onTransition). */
  journal?: JournalOptions;
}

/** Something the status should say although the apply succeeded (e.g. data lost by a restore). */
export interface ApplyNotice {
  code: string;
  message: string;
}

/** The result of one reconcile pass; `changeSet` is there also when it failed. */
export interface ApplyResult {
  owner: string;
  revision: string;
  /** True only when, after applying, a fresh observation plans no step, conflict or refusal. */
  applied: boolean;
  /** The plan that was applied (the download phase first, then the rest). */
  plan: Plan;
  changeSet: Change[];
  /** What the plan still wanted after applying (empty steps when `applied`). */
  remaining: Plan;
  error?: { code: string; message: string; terminal: boolean; data: Record<string, unknown> };
  /** The journal of an earlier apply that did not finish, found at the start of this one. */
  interrupted?: JournalRecord;
  /** What was done about it. */
  recovery?: Recovery;
  notices: ApplyNotice[];
  /**
   * Applied, but a health gate failed and policies.rollback.on_failed_health is false: the new
   * version was kept, and the revision stalls on this.
   */
  unhealthy?: { code: string; message: string };
  /** Observed before applying: the desired version broke after taking traffic. */
  brokenAfterTraffic?: BrokenAfterTraffic;
}

/**
 * One reconcile pass: recover an interrupted apply → observe → plan → download → observe and
 * plan again (the new images can now be asked about their migrations) → apply → observe again
 * → plan again. Only an empty last plan marks the revision applied; then the inventory of owned
 * objects is saved for pruning, and the migration state of the running version is recorded. A
 * failed update that changed the database (or the app's version) is terminal: the machine is
 * back on the previous version and its data, and the revision is not retried.
 * A migrated version that breaks after taking traffic (see brokenAfterTraffic) is never undone
 * by a snapshot: it is migrated back with the app's reverse migrations (the revision stalls and
 * keeps the previous version, after-traffic.json), or kept with a notice naming the
 * restore_snapshot commit and the data it would lose.
 */
export async function converge(options: ConvergeOptions): Promise<ApplyResult> {
  const { desired, stateDir } = options;
  const now = options.now ?? ((): Date => new Date());
  const held = await readMigratedBack(stateDir, desired.name);
  const fallback = (broken: BrokenAfterTraffic): Promise<ApplyResult> => {
    const back = fallbackDesired(desired, broken);
    return applyRevision({ ...options, desired: back, driver: options.driverFor?.(back) ?? options.driver });
  };
  if (held?.revision === desired.revision) return migratedBack(await fallback(held.broken), held.broken);
  const result = await applyRevision(options);
  if (held !== undefined && result.applied) await writeMigratedBack(stateDir, undefined);
  const broken = result.brokenAfterTraffic;
  if (broken === undefined || !result.applied) return result;
  // The new version took traffic: a snapshot restore would lose what users wrote since.
  const why =
    noReverseMigration(desired) ?? (options.driverFor === undefined ? 'no driver for the previous version' : undefined);
  if (why !== undefined) return keptBroken(result, broken, why, now());
  options.log.warn({ services: broken.services }, 'the new version broke after taking traffic: migrating back');
  await writeMigratedBack(stateDir, { owner: desired.name, revision: desired.revision, broken });
  const back = await fallback(broken);
  if (back.applied) return migratedBack(back, broken);
  await writeMigratedBack(stateDir, undefined);
  return keptBroken(back, broken, `migrating back failed: ${back.error?.message ?? 'not converged'}`, now());
}

/** The rule for a version that broke after taking traffic, once applied (see brokenAfterTraffic). */
function migratedBack(result: ApplyResult, broken: BrokenAfterTraffic): ApplyResult {
  if (!result.applied) return result;
  const error = new AgentError('UnhealthyAfterTraffic', migratedBackMessage(broken), {
    terminal: true,
    data: { services: broken.services, previous: broken.previous },
  });
  return { ...result, applied: false, error: error.toJSON() };
}

function keptBroken(result: ApplyResult, broken: BrokenAfterTraffic, why: string, now: Date): ApplyResult {
  return {
    ...result,
    unhealthy: { code: 'UnhealthyAfterTraffic', message: keptBrokenMessage(broken, why) },
    notices: [...result.notices, restoreSnapshotNotice(broken, now)],
  };
}

async function applyRevision(options: ConvergeOptions): Promise<ApplyResult> {
  const { desired, driver, stateDir, log } = options;
  const now = options.now ?? ((): Date => new Date());
  const owner = desired.name;
  const journal = new Journal(stateDir, now, options.journal);
  // Not kept in a local: a finished journal is dropped at once instead of living for the whole
  // pass (long enough on every poll to be promoted to the old generation).
  const interrupted = interruptedOf(await journal.read());
  let recovery: Recovery | undefined;
  if (interrupted !== undefined) {
    log.warn(
      { interruptedRevision: interrupted.revision, status: interrupted.status },
      'the last apply was interrupted',
    );
    await options.onRecovering?.(interrupted.revision);
    recovery = await recoverInterrupted(interrupted, driver, journal, log, now);
  } else {
    await driver.sweep?.(owner, { all: false });
  }
  const specKey = await loadSpecKey(stateDir);
  const lastApplied = await readInventory(stateDir, owner);
  const observe = (): Promise<ActualState> => driver.observe(owner, { hostPaths: hostPathsOf(desired) });
  const planOf = (actual: ActualState): Plan =>
    plan(desired, actual, { now: now(), specKey, ...(lastApplied === undefined ? {} : { lastApplied }) });
  const extra = {
    ...(interrupted === undefined ? {} : { interrupted }),
    ...(recovery === undefined ? {} : { recovery }),
  };

  let before = await observe();
  const broken = brokenAfterTraffic(desired, before, now());
  let first = planOf(before);
  if (recovery?.found === 'rolling-back' && recovery.error !== undefined && recovery.revision === desired.revision) {
    // The update had failed and was being rolled back: finished now, and not tried again.
    const code = isErrorCode(recovery.error.code) ? recovery.error.code : 'StepFailed';
    const error = new AgentError(code, `${recovery.error.message} (rolled back after a restart)`, {
      terminal: true,
    });
    return {
      owner,
      revision: desired.revision,
      applied: false,
      plan: first,
      changeSet: [],
      remaining: first,
      error: error.toJSON(),
      notices: [],
      ...extra,
    };
  }
  const run = (p: Plan, parallel = 1): Promise<ApplyOutcome> =>
    applyPlan(p, driver.executors, {
      journal,
      log,
      desired,
      specKey,
      now,
      parallel,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });

  // The planner's download phase first (see PHASE): then the rest is planned again, exactly.
  const downloads = downloadPhase(first);
  let steps = first.steps;
  let changeSet: Change[] = [];
  let error: AgentError | undefined;
  const unhealthy: AgentError[] = [];
  if (downloads !== undefined) {
    const outcome = await run(downloads, PARALLEL_DOWNLOADS);
    changeSet = outcome.changeSet;
    error = outcome.error;
    if (error === undefined) {
      before = await observe();
      const replanned = planOf(before);
      steps = replanned.steps;
      first = { ...replanned, steps: [...downloads.steps, ...replanned.steps] };
    }
  }
  if (error === undefined && steps.length > 0) {
    const outcome = await run({ ...first, steps });
    changeSet = [...changeSet, ...outcome.changeSet];
    unhealthy.push(...outcome.unhealthy);
    error =
      outcome.error === undefined
        ? undefined
        : asUpdateFailure(outcome.error, desired, steps, before, outcome.changeSet);
  }
  const after = first.steps.length > 0 ? await observe() : undefined;
  const remaining = after === undefined ? first : planOf(after);
  const settled = remaining.steps.length === 0 && remaining.conflicts.length === 0 && remaining.refused.length === 0;
  if (error === undefined && !settled) error = unsettled(remaining);
  const applied = error === undefined;
  if (applied) await driver.settled?.(desired, log);
  const inventory = inventoryOf(after ?? before, desired.revision);
  await writeInventory(
    stateDir,
    applied || lastApplied === undefined ? inventory : mergeInventories(lastApplied, inventory),
  );
  return {
    owner,
    revision: desired.revision,
    applied,
    plan: first,
    changeSet,
    remaining,
    ...(error === undefined ? {} : { error: error.toJSON() }),
    notices: applied ? noticesOf(first, changeSet, now()) : [],
    ...(applied && unhealthy.length > 0 ? { unhealthy: keptUnhealthy(unhealthy) } : {}),
    ...(broken === undefined ? {} : { brokenAfterTraffic: broken }),
    ...extra,
  };
}

function keptUnhealthy(errors: readonly AgentError[]): { code: string; message: string } {
  const what = errors.map((e) => e.message).join('; ');
  return {
    code: 'HealthCheckFailed',
    message: `${what}: the new version was kept because policies.rollback.on_failed_health is false; fix it with a new commit`,
  };
}

function interruptedOf(record: JournalRecord | undefined): JournalRecord | undefined {
  return isInterrupted(record) ? record : undefined;
}

function unsettled(remaining: Plan): AgentError {
  const refusal = remaining.refused[0];
  if (refusal !== undefined) {
    return new AgentError(refusal.code, refusal.message, { terminal: true, data: { refused: remaining.refused } });
  }
  if (remaining.conflicts.length > 0) {
    return new AgentError('NameConflict', conflictText(remaining), { data: { conflicts: remaining.conflicts } });
  }
  return new AgentError('NotConverged', `after applying, the plan still has ${remaining.steps.length} step(s)`, {
    data: { steps: remaining.steps.map((s) => s.id) },
  });
}

/** A failed apply stalls its revision only when it judged the new version or changed the data. */
function asUpdateFailure(
  err: AgentError,
  desired: DesiredState,
  steps: readonly Step[],
  before: ActualState,
  changeSet: Change[],
): AgentError {
  const bumpsApp = steps.some(
    (s) =>
      s.action === 'container.replace' &&
      before.containers.some(
        (c) => c.id === s.args.from.id && c.spec !== undefined && c.spec.image !== s.args.spec.image,
      ),
  );
  const apps = new Set(desired.app.services.filter((sv) => sv.role === 'app').map((sv) => sv.name));
  const ranBefore = before.containers.some(
    (c) => c.service !== undefined && apps.has(c.service) && c.state === 'running',
  );
  return classifyFailedApply(err, { bumpsApp, ranBefore, changeSet });
}

function noticesOf(p: Plan, changes: readonly Change[], now: Date): ApplyNotice[] {
  const out: ApplyNotice[] = [];
  for (const s of p.steps) {
    if (s.action !== 'snapshot.restore') continue;
    if (!changes.some((c) => c.step === s.id && c.outcome === 'applied')) continue;
    const lost = describeAge(now.getTime() - Date.parse(s.args.createdAt));
    out.push({
      code: 'SnapshotRestored',
      message: `snapshot ${s.args.name} was restored: the data written since ${s.args.createdAt} (the last ${lost}) is lost`,
    });
  }
  return out;
}

function conflictText(p: Plan): string {
  return `names taken by objects this appliance does not own: ${p.conflicts.map((c) => `${c.kind} ${c.name}`).join(', ')}`;
}
