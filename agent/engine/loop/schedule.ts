import { AgentError } from '../../core/errors.ts';
import { cycleFinished, cycleStarted, initialStatus, type AgentStatus, type CycleOutcome } from '../../core/status.ts';
import type { Logger } from '../../lib/log.ts';
import { outcomeOfError } from './report.ts';

/** One observe → desired → plan → apply → verify pass. Throwing is allowed: see `outcomeOfError`. */
export type Cycle = (trigger: string, signal: AbortSignal) => Promise<CycleOutcome>;

export interface ReconcilerDeps {
  cycle: Cycle;
  log: Logger;
  now?: () => Date;
  random?: () => number;
  /** Called with every new status (persist it, serve it). */
  onStatus?: (status: AgentStatus) => Promise<void> | void;
  /**
   * Called after each cycle with its outcome and the new status (reporters: forge statuses,
   * the status ref). Must return at once; a throw is logged and ignored.
   */
  onCycle?: (outcome: CycleOutcome, status: AgentStatus) => void;
  /** Called once the loop is idle after a cycle that was not a no-op, or after an exclusive job (e.g. release memory). */
  afterWork?: () => void;
}

export interface ReconcilerOptions {
  appliance: string;
  intervalMs: number;
  /** Fraction of the interval added or removed at random, so a fleet does not poll in step. */
  jitter?: number;
  /** First retry delay after a transient failure; doubles up to the interval. */
  backoffBaseMs?: number;
  status?: AgentStatus;
}

/**
 * The agent's loop: one cycle at a time. A trigger during a cycle runs one more cycle right
 * after it (triggers coalesce). Transient failures back off exponentially; terminal ones
 * stall until the branch moves (the cycle sees `stalledRevision`).
 */
export class Reconciler {
  private current: AgentStatus;
  private running: Promise<CycleOutcome> | undefined;
  /** A job run by `exclusive` (a backup): no cycle starts until it ends. */
  private holding: Promise<unknown> | undefined;
  /** A job run by `background` (a pre-flight) beside the loop, and how to tell it to yield. */
  private yielding: { done: Promise<unknown>; abort: AbortController } | undefined;
  private pending: { trigger: string; done: Promise<CycleOutcome> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** A cycle that was not a no-op, or a job, ran since `afterWork` last did. */
  private worked = false;
  private started = false;
  private stopped = false;
  /** The stall or failure last logged, and how many cycles in a row ended with it. */
  private repeated: (Problem & { count: number }) | undefined;
  private readonly abort = new AbortController();
  private readonly now: () => Date;
  private readonly random: () => number;

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    this.current = options.status ?? initialStatus(options.appliance, this.now());
  }

  get status(): AgentStatus {
    return this.current;
  }

  /** Publishes a change of the status between cycles or during one (e.g. an apply being recovered). */
  async update(change: (status: AgentStatus) => AgentStatus): Promise<void> {
    await this.publish(change(this.current));
  }

  /** Starts the loop with an immediate first cycle. */
  start(): void {
    this.started = true;
    void this.trigger('start');
  }

  /** Runs a cycle now, or right after the one in progress; resolves with its outcome. */
  trigger(reason: string): Promise<CycleOutcome> {
    // Anything but the periodic poll means production needs the loop now: a background job yields.
    if (reason !== 'poll') this.yieldLoop(`a ${reason} cycle`);
    const busy = this.busy();
    if (busy === undefined) return this.run(reason);
    this.pending ??= { trigger: reason, done: this.afterBusy(busy, reason) };
    return this.pending.done;
  }

  /**
   * Runs `fn` when no cycle runs, and starts no cycle until it ends (triggers meanwhile run one
   * cycle after it): a backup never meets an update half applied, and a restore's stopped app
   * is not started again by drift correction.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    for (let busy = this.busy(); busy !== undefined; busy = this.busy()) await busy.catch(() => undefined);
    const job = fn();
    const held = job.catch(() => undefined);
    this.holding = held;
    try {
      return await job;
    } finally {
      if (this.holding === held) this.holding = undefined;
      this.worked = true;
      this.idle();
    }
  }

  /**
   * Runs `fn` in the loop's free time: it starts once no cycle runs or waits and no exclusive
   * job runs, then runs beside the loop (cycles and exclusive jobs are not held back; `fn` may
   * use `exclusive` itself) with a signal that aborts as soon as production needs the loop: a
   * trigger other than the periodic poll (start, webhook, a manual sync). One such job at a time.
   */
  async background<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (
      let b = this.busy() ?? this.pending?.done ?? this.yielding?.done;
      b !== undefined;
      b = this.busy() ?? this.pending?.done ?? this.yielding?.done
    ) {
      await b.catch(() => undefined);
    }
    if (this.stopped) throw new AgentError('Stopping', 'the agent is stopping');
    const abort = new AbortController();
    const job = fn(abort.signal);
    const done = job.catch(() => undefined);
    this.yielding = { done, abort };
    try {
      return await job;
    } finally {
      if (this.yielding.done === done) this.yielding = undefined;
    }
  }

  /** Stops scheduling, aborts the cycle in progress and waits for it and any exclusive or background job to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const stopping = new AgentError('Stopping', 'the agent is stopping');
    this.abort.abort(stopping);
    this.yielding?.abort.abort(stopping);
    await Promise.allSettled([this.running, this.holding, this.yielding?.done, this.pending?.done]);
  }

  private busy(): Promise<unknown> | undefined {
    return this.running ?? this.holding;
  }

  /** Tells a background job to yield (it cleans up beside the cycle that made it yield). */
  private yieldLoop(why: string): void {
    const job = this.yielding;
    if (job === undefined || job.abort.signal.aborted) return;
    job.abort.abort(new AgentError('PreflightYielded', `yielded to production: ${why} needs the loop`));
  }

  /** The pending cycle: runs once neither a cycle nor an exclusive job is in progress. */
  private async afterBusy(busy: Promise<unknown>, reason: string): Promise<CycleOutcome> {
    for (let b: Promise<unknown> | undefined = busy; b !== undefined; b = this.busy()) await b.catch(() => undefined);
    return this.stopped ? STOPPED : this.run(this.pending?.trigger ?? reason);
  }

  private run(trigger: string): Promise<CycleOutcome> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.pending = undefined;
    const started = this.now();
    const done = (async (): Promise<CycleOutcome> => {
      await this.publish(cycleStarted(this.current, trigger, started));
      let outcome: CycleOutcome;
      try {
        outcome = await this.deps.cycle(trigger, this.abort.signal);
      } catch (err) {
        outcome = outcomeOfError(err);
      }
      this.failures = outcome.kind === 'failed' ? this.failures + 1 : 0;
      await this.publish(cycleFinished(this.current, outcome, started, this.now()));
      this.log(outcome, trigger);
      try {
        this.deps.onCycle?.(outcome, this.current);
      } catch (err) {
        this.deps.log.warn({ err }, 'a cycle reporter failed');
      }
      return outcome;
    })();
    this.running = done;
    void done.then((outcome) => {
      if (this.running === done) this.running = undefined;
      if (this.started && !this.stopped && this.pending === undefined) this.schedule();
      if (outcome.kind !== 'unchanged') this.worked = true;
      this.idle();
    });
    return done;
  }

  /** Runs `afterWork` after work, once no cycle or job runs or waits (they would only make more). */
  private idle(): void {
    const afterWork = this.deps.afterWork;
    if (afterWork === undefined || !this.worked) return;
    setImmediate(() => {
      if (!this.worked || this.busy() !== undefined || this.pending !== undefined) return;
      this.worked = false;
      afterWork();
    });
  }

  private schedule(): void {
    const delay = nextDelay(this.failures, this.options, this.random());
    this.timer = setTimeout(() => void this.trigger('poll'), delay);
  }

  private async publish(status: AgentStatus): Promise<void> {
    this.current = status;
    try {
      await this.deps.onStatus?.(status);
    } catch (err) {
      this.deps.log.warn({ err }, 'could not publish status');
    }
  }

  /**
   * Logs a cycle's outcome. A stall or failure is logged once per (revision, reason): the same
   * one on later polls only counts up (at debug), and the count is logged when it ends.
   */
  private log(outcome: CycleOutcome, trigger: string): void {
    const log = this.deps.log.child({ revision: outcome.revision, trigger });
    const problem =
      outcome.kind === 'stalled' || outcome.kind === 'failed'
        ? { kind: outcome.kind, revision: outcome.revision, reason: outcome.reason }
        : undefined;
    const last = this.repeated;
    if (last !== undefined && problem !== undefined && sameProblem(last, problem)) {
      last.count++;
      log.debug({ reason: problem.reason, count: last.count }, 'same as the last cycle');
      return;
    }
    if (last !== undefined && last.count > 1) {
      const { kind, revision, reason, count } = last;
      this.deps.log.info(
        { kind, reason, count, ...(revision === undefined ? {} : { revision }) },
        `${kind} (${reason}) ended after ${count} cycles in a row`,
      );
    }
    this.repeated = problem === undefined ? undefined : { ...problem, count: 1 };
    if (outcome.kind === 'applied') log.info({ steps: outcome.steps }, 'revision applied');
    else if (outcome.kind === 'unchanged') log.debug('in sync');
    else if (outcome.kind === 'stalled') log.error({ code: outcome.code, reason: outcome.reason }, outcome.message);
    else log.warn({ code: outcome.code, reason: outcome.reason, failures: this.failures }, outcome.message);
  }
}

/** A stall or failure, as far as logging it once is concerned. */
interface Problem {
  kind: 'stalled' | 'failed';
  revision: string | undefined;
  reason: string;
}

function sameProblem(a: Problem, b: Problem): boolean {
  return a.kind === b.kind && a.revision === b.revision && a.reason === b.reason;
}

const STOPPED: CycleOutcome = {
  kind: 'failed',
  reason: 'Stopping',
  code: 'Stopping',
  message: 'the agent is stopping',
};

/** Delay before the next cycle: the interval with jitter, or a backoff after failures. */
export function nextDelay(
  failures: number,
  options: Pick<ReconcilerOptions, 'intervalMs' | 'jitter' | 'backoffBaseMs'>,
  random: number,
): number {
  const base =
    failures === 0
      ? options.intervalMs
      : Math.min(options.intervalMs, (options.backoffBaseMs ?? 1000) * 2 ** Math.min(failures - 1, 20));
  const jitter = options.jitter ?? 0.1;
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random - 1))));
}
