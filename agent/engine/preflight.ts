import type { DesiredState } from '../core/desired.ts';
import { describeError, isAgentError } from '../core/errors.ts';
import { ERROR_CODES, isErrorCode } from '../core/error-codes.ts';
import {
  MAX_ATTEMPTS,
  RUNNING_STATUS,
  decideHeads,
  keepListed,
  preflightStatus,
  type HeadRecord,
  type PreflightStatus,
} from '../core/preflight.ts';
import type { RemoteRef } from '../core/review-refs.ts';
import { formatIssue, type ConfigResult } from '../core/result.ts';
import { touchesAppliance } from '../config/appliance-files.ts';
import type { RepoReader } from '../config/load.ts';
import type { Logger } from '../lib/log.ts';
import { readPreflightState, writePreflightState } from './preflight-state.ts';

/** The review refs, as the pre-flight needs them (ReviewSource in production). */
export interface PreflightSource {
  list(patterns: readonly string[]): Promise<RemoteRef[]>;
  fetch(head: RemoteRef): Promise<{ oid: string; reader: RepoReader }>;
  /** The signer, or undefined when the branch takes unsigned commits; throws a terminal error when refused. */
  verify(oid: string): Promise<{ signer: string } | undefined>;
}

/** What one trial on a clone found. */
export interface TrialResult {
  /** Absent when nothing was migrated. */
  migrationMs?: number;
  smoke?: { exitCode: number; tail: string };
}

/**
 * Tries a desired state on a short-lived clone: pull its images, make the clone from
 * production's data and apply the state to it (migrations included, health-gated), run the
 * smoke test, and remove the clone whatever happened. Throws what failed.
 */
export type Trial = (desired: DesiredState, signal: AbortSignal) => Promise<TrialResult>;

export interface PreflightDeps {
  name: string;
  log: Logger;
  /** Holds `preflight.json`. */
  stateDir: string;
  source: PreflightSource;
  /** The revision in force: its desired state (for the patterns) and a reader of it. */
  inForce: () => { desired: DesiredState; reader: RepoReader } | undefined;
  /** Loads (decrypts, validates) this appliance's desired state at a head. */
  load: (reader: RepoReader, revision: string) => Promise<ConfigResult<DesiredState>>;
  trial: Trial;
  /** Posts `appliance/<name>/preflight` on a commit (beside the loop; returns at once). */
  report: (sha: string, status: PreflightStatus) => void;
  /** Runs a trial when production leaves the loop free, and aborts it when production needs it. */
  slot: <T>(fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;
  now?: () => Date;
}

/**
 * Pre-flight of review heads. `scan` (after each cycle) lists the refs matching
 * appliance.yml `preflight.refs` of the revision in force; each new head that changes this
 * appliance and passes the branch's trust rules is tried on a clone, one at a time, in the
 * loop's free time; an untrusted one gets a status saying why it was not tried. Each head is
 * tried once; only a transient failure (yielded, Docker unreachable) is tried again.
 */
export class Preflight {
  private scanning: Promise<void> | undefined;
  private again = false;
  private readonly now: () => Date;

  constructor(private readonly deps: PreflightDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Looks for new heads and tries them; returns at once (one scan at a time, a second one queued). */
  poke(): void {
    if (this.scanning !== undefined) {
      this.again = true;
      return;
    }
    this.scanning = (async () => {
      do {
        await this.scan().catch((err: unknown) => {
          this.deps.log.warn({ err: describeError(err) }, 'pre-flight scan failed; tried again after the next cycle');
        });
      } while (this.takeAgain());
    })().finally(() => {
      this.scanning = undefined;
    });
  }

  /** Whether a poke came during the scan (then one more runs). */
  private takeAgain(): boolean {
    const again = this.again;
    this.again = false;
    return again;
  }

  /** Resolves once no scan runs (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.scanning !== undefined) await this.scanning;
  }

  /** One scan: list, decide, check and try what is new. Returns the heads it tried or refused. */
  async scan(): Promise<Record<string, HeadRecord>> {
    const inForce = this.deps.inForce();
    const patterns = inForce?.desired.preflight?.refs ?? [];
    if (inForce === undefined || patterns.length === 0) return {};
    const heads = await this.deps.source.list(patterns);
    let state = keepListed(await readPreflightState(this.deps.stateDir), heads);
    const decisions = decideHeads(state, heads);
    const at = this.now().toISOString();
    if (state.baselineAt === undefined) {
      const existing = heads.map((h) => [h.oid, { result: 'existing', ref: h.ref, at }] as const);
      state = { ...state, baselineAt: at, heads: Object.fromEntries(existing) };
      await writePreflightState(this.deps.stateDir, state);
      if (heads.length > 0)
        this.deps.log.info(
          { heads: heads.map((h) => h.ref) },
          'pre-flight: heads there before it was enabled are not tried',
        );
      return {};
    }
    const done: Record<string, HeadRecord> = {};
    for (const head of heads) {
      if (decisions.get(head.oid) !== 'check') continue;
      const record = await this.check(head, inForce.reader, state.heads[head.oid]);
      state = { ...state, heads: { ...state.heads, [head.oid]: record } };
      await writePreflightState(this.deps.stateDir, state);
      done[head.oid] = record;
      const status = preflightStatus(record);
      if (status !== undefined) this.deps.report(head.oid, status);
      this.deps.log.info({ ref: head.ref, commit: head.oid, result: record.result }, 'pre-flight of a review head');
    }
    return done;
  }

  private async check(head: RemoteRef, base: RepoReader, last: HeadRecord | undefined): Promise<HeadRecord> {
    const at = (): string => this.now().toISOString();
    const { reader } = await this.deps.source.fetch(head);
    if (!(await touchesAppliance(base, reader, this.deps.name)))
      return { result: 'unchanged', ref: head.ref, at: at() };
    try {
      await this.deps.source.verify(head.oid);
    } catch (err) {
      if (!isAgentError(err) || !err.terminal) throw err;
      return { result: 'not-tried', ref: head.ref, at: at(), code: err.code, message: err.message };
    }
    const loaded = await this.deps.load(reader, head.oid);
    if (!loaded.ok) {
      const message = `the configuration is invalid: ${loaded.errors.map(formatIssue).join('; ')}`;
      return { result: 'failed', ref: head.ref, at: at(), code: 'ConfigInvalid', message };
    }
    this.deps.report(head.oid, RUNNING_STATUS);
    try {
      const result = await this.deps.slot(async (signal) => {
        try {
          return await this.deps.trial(loaded.value, signal);
        } catch (err) {
          // Whatever an aborted apply threw, the trial stopped because production needed the loop.
          throw signal.aborted ? (signal.reason as unknown) : err;
        }
      });
      const smokeFailed = result.smoke !== undefined && result.smoke.exitCode !== 0;
      const base = {
        ref: head.ref,
        at: at(),
        ...(result.migrationMs === undefined ? {} : { migrationMs: result.migrationMs }),
        ...(result.smoke === undefined ? {} : { smokeTail: result.smoke.tail }),
      };
      if (smokeFailed) {
        const message = `smoke test exited with ${String(result.smoke?.exitCode)}: ${result.smoke?.tail.trim() ?? ''}`;
        return { result: 'failed', ...base, code: 'SmokeTestFailed', message };
      }
      return { result: 'passed', ...base, message: 'the update migrated and passed its checks on a clone' };
    } catch (err) {
      const code = isAgentError(err) ? err.code : 'InternalError';
      const message = describeError(err);
      // Yielding to production (or the agent stopping) is no attempt of the head's; other environment failures count.
      const yielded = code === 'PreflightYielded' || code === 'Stopping';
      const before = last?.result === 'retry' ? last.attempts : 0;
      const attempts = yielded ? before : before + 1;
      if (yielded || (transient(code) && attempts < MAX_ATTEMPTS))
        return { result: 'retry', ref: head.ref, at: at(), attempts, code, message };
      return { result: 'failed', ref: head.ref, at: at(), code, message };
    }
  }
}

/** A failure of what the trial depends on (Docker, the registry, free space), not of the head: tried again. */
function transient(code: string): boolean {
  return code === 'CloneNoSpace' || (isErrorCode(code) && ERROR_CODES[code].kind === 'environment');
}
