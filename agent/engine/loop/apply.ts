import type { DesiredState } from '../../core/desired.ts';
import { AgentError, describeError, isAgentError } from '../../core/errors.ts';
import type { Plan } from '../../core/plan.ts';
import { subjectOf, type Action, type Step } from '../../core/steps.ts';
import type { Logger } from '../../lib/log.ts';
import type { ExecContext, Executor, Executors, Undo } from '../../core/executors.ts';
import type { Journal } from './journal.ts';

/** What happened to one step of a plan. */
export interface Change {
  step: string;
  action: Action;
  subject: string;
  outcome: 'applied' | 'reverted' | 'failed' | 'revert-failed' | 'not-run';
}

/** The result of `applyPlan`: a change set in every case, and the error when it failed. */
export interface ApplyOutcome {
  ok: boolean;
  changeSet: Change[];
  error?: AgentError;
  /** Health gates that failed where the policy keeps the new version (see ExecContext.keptUnhealthy). */
  unhealthy: AgentError[];
}

export interface ApplyPlanOptions {
  journal: Journal;
  log: Logger;
  signal?: AbortSignal;
  desired: DesiredState;
  specKey: string;
  now?: () => Date;
  /**
   * How many steps run at once (default 1). Only for a plan whose steps are independent, have
   * no undo and change nothing a running app sees: the download phase.
   */
  parallel?: number;
}

/**
 * Runs a plan's steps one after another (they change the machine; only a download phase runs
 * side by side, see `parallel`). Each
 * step's undo goes on a stack; when a step fails or the signal aborts, the stack is unwound in
 * reverse, so the machine is left as it was before this apply. When all steps succeeded, the
 * commits run (in step order): what was kept for undoing is dropped. Every transition is
 * written to the journal first.
 */
export async function applyPlan(plan: Plan, executors: Executors, options: ApplyPlanOptions): Promise<ApplyOutcome> {
  const { journal, log } = options;
  const base = {
    desired: options.desired,
    specKey: options.specKey,
    log,
    outputOf: (id: string) => journal.outputOf(id),
    now: options.now ?? ((): Date => new Date()),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const unhealthy: AgentError[] = [];
  const ctxFor = (step: Step, slog: Logger): ExecContext => ({
    ...base,
    log: slog,
    record: (output) => journal.output(step.id, output),
    keptUnhealthy: (err) => {
      slog.error({ code: err.code }, `${err.message}: kept (policies.rollback.on_failed_health is false)`);
      unhealthy.push(err);
    },
  });
  const changes = new Map<string, Change>(
    plan.steps.map((s) => [s.id, { step: s.id, action: s.action, subject: subjectOf(s), outcome: 'not-run' }]),
  );
  const done: { step: Step; undo: Undo | undefined }[] = [];
  await journal.begin(plan);
  // Set by the first step that fails (read by the steps running beside it).
  const first: { failure?: AgentError } = {};
  const parallel = Math.max(1, options.parallel ?? 1);
  // Side by side, the first failure stops the steps still running: their own controller, tied
  // to the caller's. One at a time, a failure just ends the loop, and the undos get the
  // caller's signal (an undo that waits for a container must not see an aborted one).
  const siblings = parallel > 1 ? new AbortController() : undefined;
  const onAbort = (): void => {
    siblings?.abort(options.signal?.reason);
  };
  if (siblings !== undefined) options.signal?.addEventListener('abort', onAbort, { once: true });
  const signal = siblings?.signal ?? options.signal;
  const runOne = async (step: Step): Promise<void> => {
    if (signal?.aborted === true) {
      first.failure ??= new AgentError('ApplyAborted', 'the apply was aborted', { cause: signal.reason });
      return;
    }
    const slog = log.child({ step: step.id });
    await journal.step(step.id, 'started');
    slog.info({ reason: step.reason, risk: step.risk }, `${step.action} ${subjectOf(step)}`);
    try {
      const ctx = ctxFor(step, slog);
      // The step's context carries the caller's signal already; side by side, the siblings' one.
      const undo = await run(executors, step, siblings === undefined ? ctx : { ...ctx, signal: siblings.signal });
      done.push({ step, undo });
      setOutcome(changes, step.id, 'applied');
      await journal.step(step.id, 'done');
    } catch (err) {
      const error = toAgentError(err, step);
      setOutcome(changes, step.id, first.failure !== undefined ? 'not-run' : 'failed');
      await journal.step(step.id, 'failed');
      if (first.failure === undefined) slog.error({ err: error }, `${step.id} failed: ${error.message}`);
      first.failure ??= error;
      siblings?.abort(error);
    }
  };
  const queue = [...plan.steps];
  const worker = async (): Promise<void> => {
    for (let step = queue.shift(); step !== undefined && first.failure === undefined; step = queue.shift())
      await runOne(step);
  };
  try {
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  const failure = first.failure;
  if (failure !== undefined) {
    await journal.status('rolling-back', { code: failure.code, message: failure.message });
    await unwind(done, changes, journal, log);
    await journal.status('rolled-back');
    return { ok: false, changeSet: [...changes.values()], error: failure, unhealthy };
  }
  await journal.status('committing');
  for (const { step, undo } of done) {
    if (undo?.commit === undefined) continue;
    try {
      await undo.commit();
      await journal.step(step.id, 'committed');
    } catch (err) {
      // The change itself is in place; what is left over (an old container) is planned away next time.
      log.warn({ step: step.id, err: describeError(err) }, `cleanup after ${step.id} failed`);
    }
  }
  await journal.status('applied');
  return { ok: true, changeSet: [...changes.values()], unhealthy };
}

// The compiler cannot tie `step.action` to the executor's parameter through the mapped type;
// the map's type guarantees the executor for an action takes that action's step.
function run(executors: Executors, step: Step, ctx: ExecContext): Promise<Undo | undefined> {
  const exec = executors[step.action] as Executor<Action>;
  return exec(step, ctx);
}

async function unwind(
  done: { step: Step; undo: Undo | undefined }[],
  changes: Map<string, Change>,
  journal: Journal,
  log: Logger,
): Promise<void> {
  for (const { step, undo } of [...done].reverse()) {
    if (undo?.revert === undefined) continue;
    try {
      await undo.revert();
      setOutcome(changes, step.id, 'reverted');
      await journal.step(step.id, 'undone');
    } catch (err) {
      setOutcome(changes, step.id, 'revert-failed');
      await journal.step(step.id, 'undo-failed');
      log.error({ step: step.id, err: describeError(err) }, `undoing ${step.id} failed`);
    }
  }
}

function setOutcome(changes: Map<string, Change>, id: string, outcome: Change['outcome']): void {
  const c = changes.get(id);
  if (c !== undefined) c.outcome = outcome;
}

function toAgentError(err: unknown, step: Step): AgentError {
  if (isAgentError(err)) return err;
  return new AgentError('StepFailed', `${step.id}: ${describeError(err)}`, { cause: err, data: { step: step.id } });
}
