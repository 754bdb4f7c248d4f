import { inventoryOf, mergeInventories, type ActualState } from '../core/actual.ts';
import type { DesiredState } from '../core/desired.ts';
import { AgentError } from '../core/errors.ts';
import { hostPathsOf } from '../core/normalize.ts';
import { plan, type Plan } from '../core/plan.ts';
import type { Logger } from '../lib/log.ts';
import { applyPlan, type Change } from './apply-plan.ts';
import type { MachineDriver } from './executors.ts';
import { Journal, isInterrupted, type JournalRecord } from './journal.ts';
import { loadSpecKey, readInventory, writeInventory } from './state-files.ts';

export interface ApplyOnceOptions {
  desired: DesiredState;
  driver: MachineDriver;
  /** The agent's state directory: journal.json, inventory.json, spec-key, secrets/. */
  stateDir: string;
  log: Logger;
  signal?: AbortSignal;
  now?: () => Date;
}

/** The result of one reconcile pass; `changeSet` is there also when it failed. */
export interface ApplyResult {
  owner: string;
  revision: string;
  /** True only when, after applying, a fresh observation plans no step and no conflict. */
  applied: boolean;
  /** The plan that was applied. */
  plan: Plan;
  changeSet: Change[];
  /** What the plan still wanted after applying (empty steps when `applied`). */
  remaining: Plan;
  error?: { code: string; message: string; terminal: boolean; data: Record<string, unknown> };
  /** The journal of an earlier apply that did not finish, found at the start of this one. */
  interrupted?: JournalRecord;
}

/**
 * One reconcile pass: observe → plan → apply → observe again → plan again. Only an empty second
 * plan marks the revision applied; then the inventory of owned objects is saved for pruning.
 * After a failure the saved inventory keeps everything it listed plus what is there now, so
 * nothing the agent made is forgotten.
 */
export async function applyOnce(options: ApplyOnceOptions): Promise<ApplyResult> {
  const { desired, driver, stateDir, log } = options;
  const now = options.now ?? ((): Date => new Date());
  const owner = desired.name;
  const journal = new Journal(stateDir, now);
  const previous = await journal.read();
  const interrupted = isInterrupted(previous) ? previous : undefined;
  if (interrupted !== undefined) {
    log.warn({ revision: interrupted.revision, status: interrupted.status }, 'the last apply was interrupted');
  }
  const specKey = await loadSpecKey(stateDir);
  const lastApplied = await readInventory(stateDir, owner);
  const observe = (): Promise<ActualState> => driver.observe(owner, { hostPaths: hostPathsOf(desired) });
  const planOf = (actual: ActualState): Plan =>
    plan(desired, actual, { now: now(), specKey, ...(lastApplied === undefined ? {} : { lastApplied }) });

  const before = await observe();
  const first = planOf(before);
  let changeSet: Change[] = [];
  let error: AgentError | undefined;
  if (first.steps.length > 0) {
    const outcome = await applyPlan(first, driver.executors, {
      journal,
      log,
      desired,
      specKey,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    changeSet = outcome.changeSet;
    error = outcome.error;
  }
  const after = first.steps.length > 0 ? await observe() : undefined;
  const remaining = after === undefined ? first : planOf(after);
  const settled = remaining.steps.length === 0 && remaining.conflicts.length === 0;
  if (error === undefined && !settled) {
    error =
      remaining.conflicts.length > 0
        ? new AgentError('NameConflict', conflictText(remaining), { data: { conflicts: remaining.conflicts } })
        : new AgentError('NotConverged', `after applying, the plan still has ${remaining.steps.length} step(s)`, {
            data: { steps: remaining.steps.map((s) => s.id) },
          });
  }
  const applied = error === undefined;
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
    ...(interrupted === undefined ? {} : { interrupted }),
  };
}

function conflictText(p: Plan): string {
  return `names taken by objects this appliance does not own: ${p.conflicts.map((c) => `${c.kind} ${c.name}`).join(', ')}`;
}
