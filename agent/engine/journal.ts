import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../core/errors.ts';
import type { Plan } from '../core/plan.ts';
import { subjectOf, type Action } from '../core/steps.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';

export type JournalStepState = 'pending' | 'started' | 'done' | 'failed' | 'undone' | 'undo-failed' | 'committed';

/** `applying`, `rolling-back` and `committing` on disk at start mean an apply was interrupted. */
export type JournalStatus = 'applying' | 'rolling-back' | 'committing' | 'applied' | 'rolled-back' | 'failed';

export interface JournalStep {
  id: string;
  action: Action;
  subject: string;
  state: JournalStepState;
  time: string;
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
}

const INTERRUPTED: readonly JournalStatus[] = ['applying', 'rolling-back', 'committing'];

/**
 * The apply journal: rewritten atomically before and after every step, so that after a crash
 * or power loss the next start can see which apply was interrupted and where.
 */
export class Journal {
  readonly path: string;
  private record: JournalRecord | undefined;

  constructor(
    stateDir: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.path = path.join(stateDir, 'journal.json');
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
    const time = this.now().toISOString();
    this.record = {
      owner: plan.owner,
      revision: plan.revision,
      startedAt: time,
      updatedAt: time,
      status: 'applying',
      steps: plan.steps.map((s) => ({ id: s.id, action: s.action, subject: subjectOf(s), state: 'pending', time })),
    };
    await this.write();
  }

  async step(id: string, state: JournalStepState): Promise<void> {
    const rec = this.current();
    const entry = rec.steps.find((s) => s.id === id);
    if (entry !== undefined) {
      entry.state = state;
      entry.time = this.now().toISOString();
    }
    await this.write();
  }

  async status(status: JournalStatus, error?: { code: string; message: string }): Promise<void> {
    const rec = this.current();
    rec.status = status;
    if (error !== undefined) rec.error = error;
    await this.write();
  }

  private current(): JournalRecord {
    if (this.record === undefined) throw new AgentError('JournalNotStarted', 'journal: begin() was not called');
    return this.record;
  }

  private async write(): Promise<void> {
    const rec = this.current();
    rec.updatedAt = this.now().toISOString();
    await writeFileAtomic(this.path, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
  }
}

/** True when a journal shows an apply that did not finish (crash, power loss, kill). */
export function isInterrupted(record: JournalRecord | undefined): boolean {
  return record !== undefined && INTERRUPTED.includes(record.status);
}
