import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../../core/errors.ts';
import type { JsonObject } from '../../core/json.ts';
import type { Plan } from '../../core/plan.ts';
import { subjectOf, type Action, type Risk, type Step } from '../../core/steps.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

export type JournalStepState = 'pending' | 'started' | 'done' | 'failed' | 'undone' | 'undo-failed' | 'committed';

/** `applying`, `rolling-back` and `committing` on disk at start mean an apply was interrupted. */
export type JournalStatus = 'applying' | 'rolling-back' | 'committing' | 'applied' | 'rolled-back' | 'failed';

export interface JournalStep {
  id: string;
  action: Action;
  subject: string;
  state: JournalStepState;
  time: string;
  /** The step's arguments (secret-free): what recovery after a crash works from. */
  args?: unknown;
  risk?: Risk;
  /** What the step recorded before its changes (see ExecContext.record). */
  output?: JsonObject;
}

/** The on-disk record of one apply (`<stateDir>/journal.json`). */
export interface JournalRecord {
  owner: string;
  revision: string;
  startedAt: string;
  updatedAt: string;
  status: JournalStatus;
  steps: JournalStep[];
  error?: { code: string; message: string };
  /** Set when the next start found this apply interrupted and finished it (`rolled-back` or `applied`). */
  recoveredAt?: string;
}

/** Options of a journal. */
export interface JournalOptions {
  /**
   * Called after every transition is on disk, with `<step id>=<state>` or `status=<status>`:
   * the crash tests kill the process here. Nothing else uses it.
   */
  onTransition?: (key: string) => void;
}

const INTERRUPTED: readonly JournalStatus[] = ['applying', 'rolling-back', 'committing'];

/**
 * The apply journal: rewritten atomically before and after every step, so that after a crash
 * or power loss the next start can see which apply was interrupted and where.
 */
export class Journal {
  readonly path: string;
  private record: JournalRecord | undefined;
  private writing: Promise<void> = Promise.resolve();
  // An adopted record is being recovered: its final status then carries `recoveredAt`.
  private recovering = false;

  constructor(
    stateDir: string,
    private readonly now: () => Date = () => new Date(),
    private readonly options: JournalOptions = {},
  ) {
    this.path = path.join(stateDir, 'journal.json');
  }

  /** Continues the record of an interrupted apply (recovery writes its progress into it). */
  adopt(record: JournalRecord): void {
    this.record = structuredClone(record);
    this.recovering = true;
  }

  /** The journal left on disk by the last apply, if any. */
  async read(): Promise<JournalRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as JournalRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Starts the record of an apply of `plan`, every step pending. */
  async begin(plan: Plan): Promise<void> {
    this.recovering = false;
    const time = this.now().toISOString();
    this.record = {
      owner: plan.owner,
      revision: plan.revision,
      startedAt: time,
      updatedAt: time,
      status: 'applying',
      steps: plan.steps.map((s) => ({
        id: s.id,
        action: s.action,
        subject: subjectOf(s),
        state: 'pending',
        time,
        args: s.args,
        risk: s.risk,
      })),
    };
    await this.write('status=applying');
  }

  async step(id: string, state: JournalStepState): Promise<void> {
    const rec = this.current();
    const entry = rec.steps.find((s) => s.id === id);
    if (entry !== undefined) {
      entry.state = state;
      entry.time = this.now().toISOString();
    }
    await this.write(`${id}=${state}`);
  }

  /** Records what a step knows before its next change (replaces what it recorded before). */
  async output(id: string, output: JsonObject): Promise<void> {
    const entry = this.current().steps.find((s) => s.id === id);
    if (entry !== undefined) entry.output = structuredClone(output);
    await this.write();
  }

  /** What a step of the current record recorded. */
  outputOf(id: string): JsonObject | undefined {
    return this.record?.steps.find((s) => s.id === id)?.output;
  }

  async status(status: JournalStatus, error?: { code: string; message: string }): Promise<void> {
    const rec = this.current();
    rec.status = status;
    if (error !== undefined) rec.error = error;
    if (this.recovering && (status === 'rolled-back' || status === 'applied'))
      rec.recoveredAt = this.now().toISOString();
    await this.write(`status=${status}`);
  }

  private current(): JournalRecord {
    if (this.record === undefined) throw new AgentError('JournalNotStarted', 'journal: begin() was not called');
    return this.record;
  }

  /**
   * One write at a time, each of the record as it is when its turn comes: steps that run side by
   * side (downloads) never rename an older record over a newer one.
   */
  private write(transition?: string): Promise<void> {
    const rec = this.current();
    const next = this.writing.then(async () => {
      rec.updatedAt = this.now().toISOString();
      await writeFileAtomic(this.path, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
      if (transition !== undefined) this.options.onTransition?.(transition);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}

/** A journalled step as a Step again (for its recoverer); undefined for a journal without arguments. */
export function journalledStep(entry: JournalStep): Step | undefined {
  if (entry.args === undefined) return undefined;
  return {
    id: entry.id,
    action: entry.action,
    reason: '',
    after: [],
    risk: entry.risk ?? 'safe',
    args: entry.args,
  } as unknown as Step;
}

/** True when a journal shows an apply that did not finish (crash, power loss, kill). */
export function isInterrupted(record: JournalRecord | undefined): boolean {
  return record !== undefined && INTERRUPTED.includes(record.status);
}
