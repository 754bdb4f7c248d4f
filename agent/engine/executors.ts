import type { ActualState } from '../core/actual.ts';
import type { DesiredState } from '../core/desired.ts';
import type { Action, Step } from '../core/steps.ts';
import type { Logger } from '../lib/log.ts';

/**
 * What an executor hands back after changing the machine: how to put it back if a later step
 * fails (`revert`), and what to finish once the whole apply succeeded (`commit`, e.g. remove
 * the old container a replace kept stopped so that `revert` could restart it).
 */
export interface Undo {
  revert?: () => Promise<void>;
  commit?: () => Promise<void>;
}

/** What every executor gets besides its step. */
export interface ExecContext {
  /** The desired state the plan was made from: executors read secret values here, never from the step. */
  desired: DesiredState;
  /** The key the plan's spec digests were made with. */
  specKey: string;
  log: Logger;
  signal?: AbortSignal;
}

export type Executor<A extends Action> = (step: Step<A>, ctx: ExecContext) => Promise<Undo | undefined>;

/** One executor per action: a new action without an executor does not compile. */
export type Executors = { [A in Action]: Executor<A> };

/** A driver the engine can reconcile with: observe the machine, and executors for the steps. */
export interface MachineDriver {
  observe(owner: string, options?: { hostPaths?: readonly string[] }): Promise<ActualState>;
  readonly executors: Executors;
}
