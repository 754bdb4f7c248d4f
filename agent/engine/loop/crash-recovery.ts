import { describeError } from '../../core/errors.ts';
import type { Action, Step } from '../../core/steps.ts';
import type { Logger } from '../../lib/log.ts';
import type { MachineDriver, RecoverContext, Recoverer } from '../../core/executors.ts';
import { journalledStep, type Journal, type JournalRecord, type JournalStepState } from './journal.ts';

/** What recovery did with an interrupted apply. */
export interface Recovery {
  revision: string;
  /** The journal's status when it was found. */
  found: JournalRecord['status'];
  /** `rolled-back`: every started step undone; `completed`: it had passed its commit point; `reported`: no recoverers. */
  outcome: 'rolled-back' | 'completed' | 'reported';
  /** Steps undone, in the order they were undone. */
  undone: string[];
  /** Steps whose undo failed (the next plan sees what is left). */
  failed: string[];
  /** The error the apply had failed with before it was interrupted, if it had. */
  error?: { code: string; message: string };
}

const TOUCHED: readonly JournalStepState[] = ['started', 'done', 'failed', 'undo-failed'];

/**
 * Finishes an apply a crash interrupted, from its journal alone. Past the commit point
 * (`committing`: every step succeeded and was verified) it is completed: what commits leave is
 * planned away. Otherwise it is rolled back: one-off containers are removed (a migration must
 * not go on under a restore), then every step that had started is undone in reverse order by
 * its recoverer — containers put back, the PRE_MIGRATE snapshot restored. Each transition is
 * journaled, so a crash during recovery is recovered again on the next start.
 */
export async function recoverInterrupted(
  record: JournalRecord,
  driver: MachineDriver,
  journal: Journal,
  log: Logger,
  now: () => Date,
): Promise<Recovery> {
  const base = {
    revision: record.revision,
    found: record.status,
    undone: [] as string[],
    failed: [] as string[],
    ...(record.error === undefined ? {} : { error: record.error }),
  };
  const recoverers = driver.recoverers;
  if (recoverers === undefined) return { ...base, outcome: 'reported' };
  journal.adopt(record);
  await driver.sweep?.(record.owner, { all: true });
  if (record.status === 'committing') {
    await journal.status('applied');
    log.warn({ interruptedRevision: record.revision }, 'an interrupted apply had passed its commit point: completed');
    return { ...base, outcome: 'completed' };
  }
  await journal.status(
    'rolling-back',
    record.error ?? { code: 'Interrupted', message: 'the agent stopped during the apply' },
  );
  for (const entry of [...record.steps].reverse()) {
    if (!TOUCHED.includes(entry.state)) continue;
    const step = journalledStep(entry);
    if (step === undefined) continue;
    const ctx: RecoverContext = {
      log: log.child({ step: step.id, recovery: true }),
      outputOf: (id) => journal.outputOf(id),
      record: (output) => journal.output(step.id, output),
      now,
    };
    try {
      await run(recoverers[step.action] as Recoverer<Action>, step, ctx);
      await journal.step(step.id, 'undone');
      base.undone.push(step.id);
    } catch (err) {
      await journal.step(step.id, 'undo-failed');
      base.failed.push(step.id);
      log.error({ step: step.id, err: describeError(err) }, `recovering ${step.id} failed`);
    }
  }
  await journal.status('rolled-back');
  log.warn(
    { revision: record.revision, undone: base.undone, failed: base.failed },
    'an interrupted apply was rolled back',
  );
  return { ...base, outcome: 'rolled-back' };
}

function run(recoverer: Recoverer<Action>, step: Step, ctx: RecoverContext): Promise<void> {
  return recoverer(step, ctx);
}
