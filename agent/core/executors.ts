import type { ActualState } from './actual.ts';
import type { DesiredState } from './desired.ts';
import type { AgentError } from './errors.ts';
import type { JsonObject } from './json.ts';
import type { Action, Step } from './steps.ts';
import type { Log as Logger } from './log.ts';

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
  /**
   * Journals what the step knows before its next change (a snapshot's name, whether a container
   * was running), so that after a crash its recoverer can undo it. Secret-free.
   */
  record: (output: JsonObject) => Promise<void>;
  /** What an earlier step of this apply recorded. */
  outputOf: (stepId: string) => JsonObject | undefined;
  now: () => Date;
  /**
   * A health gate failed and policies.rollback.on_failed_health is false: the step keeps the
   * new container and reports here instead of failing; the apply then stalls on it.
   */
  keptUnhealthy?: (err: AgentError) => void;
}

export type Executor<A extends Action> = (step: Step<A>, ctx: ExecContext) => Promise<Undo | undefined>;

/** One executor per action: a new action without an executor does not compile. */
export type Executors = { [A in Action]: Executor<A> };

/** What a recoverer gets: no desired state (the crashed apply's may differ from today's). */
export interface RecoverContext {
  log: Logger;
  /** What a step of the interrupted apply recorded. */
  outputOf: (stepId: string) => JsonObject | undefined;
  /** Journals the step's output again (recovery can crash and run again). */
  record: (output: JsonObject) => Promise<void>;
  now: () => Date;
}

/**
 * Undoes, after a crash, a step that an interrupted apply had started or finished, from the
 * step's arguments and what it recorded alone. Must be idempotent: recovery itself can crash.
 */
export type Recoverer<A extends Action> = (step: Step<A>, ctx: RecoverContext) => Promise<void>;

/** One recoverer per action: a new action without one does not compile. */
export type Recoverers = { [A in Action]: Recoverer<A> };

/** A driver the engine can reconcile with: observe the machine, and executors for the steps. */
export interface MachineDriver {
  observe(owner: string, options?: { hostPaths?: readonly string[] }): Promise<ActualState>;
  readonly executors: Executors;
  /** Undo of interrupted steps after a crash; without it an interrupted apply is only reported. */
  readonly recoverers?: Recoverers;
  /** Removes what a crashed run left that no step describes (one-off containers, half-made snapshots). */
  sweep?(owner: string, options: { all: boolean }): Promise<void>;
  /** After a verified apply: remember what later plans need (the migration state of the running version). */
  settled?(desired: DesiredState, log: Logger): Promise<void>;
}
