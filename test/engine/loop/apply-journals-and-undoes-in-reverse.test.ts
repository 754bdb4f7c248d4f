import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AgentError } from '../../../agent/core/errors.ts';
import type { Plan } from '../../../agent/core/plan.ts';
import { RISK, type Action, type Step } from '../../../agent/core/steps.ts';
import { applyPlan } from '../../../agent/engine/loop/apply.ts';
import type { ExecContext, Executors, Undo } from '../../../agent/core/executors.ts';
import { Journal, isInterrupted, type JournalRecord } from '../../../agent/engine/loop/journal.ts';
import { createLogger } from '../../../agent/lib/log.ts';
import { desiredState } from '../../../devenv/desired-builder.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apply-plan-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const log = createLogger({ level: 'silent' });
const desired = desiredState({ name: 'x', services: [] });

function step(id: string): Step {
  return {
    id,
    action: 'network.create',
    reason: 'test',
    after: [],
    risk: RISK['network.create'],
    args: { name: id, network: id, internal: false },
  };
}

function planOf(ids: string[]): Plan {
  return { owner: 'x', revision: 'r', createdAt: '', steps: ids.map(step), orphans: [], conflicts: [], refused: [] };
}

/** Executors that record calls; `fail` names the step that throws. */
function recording(calls: string[], fail?: string, onRun?: (id: string) => Promise<void>): Executors {
  const exec = async (s: Step): Promise<Undo> => {
    calls.push(`run ${s.id}`);
    await onRun?.(s.id);
    if (s.id === fail) throw new AgentError('StepFailed', `${s.id} failed`);
    return {
      revert: () => Promise.resolve(void calls.push(`revert ${s.id}`)),
      commit: () => Promise.resolve(void calls.push(`commit ${s.id}`)),
    };
  };
  const actions: Action[] = [
    'image.pull',
    'network.create',
    'network.remove',
    'volume.create',
    'container.create',
    'container.replace',
    'container.start',
    'container.rename',
    'container.remove',
    'container.stop',
    'snapshot.create',
    'snapshot.restore',
    'app.migrate',
    'app.reverse-migrate',
  ];
  return Object.fromEntries(actions.map((a) => [a, exec])) as unknown as Executors;
}

test('steps run in order; commits run only after all succeeded', async () => {
  const calls: string[] = [];
  const journal = new Journal(dir);
  const out = await applyPlan(planOf(['a', 'b']), recording(calls), { journal, log, desired, specKey: 'k' });
  assert.equal(out.ok, true);
  assert.deepEqual(calls, ['run a', 'run b', 'commit a', 'commit b']);
  const rec = (await journal.read()) as JournalRecord;
  assert.equal(rec.status, 'applied');
  assert.equal(isInterrupted(rec), false);
});

test('a failing step unwinds the done steps in reverse and nothing is committed', async () => {
  const calls: string[] = [];
  const journal = new Journal(dir);
  const out = await applyPlan(planOf(['a', 'b', 'c', 'd']), recording(calls, 'c'), {
    journal,
    log,
    desired,
    specKey: 'k',
  });
  assert.equal(out.ok, false);
  assert.equal(out.error?.code, 'StepFailed');
  assert.deepEqual(calls, ['run a', 'run b', 'run c', 'revert b', 'revert a']);
  assert.deepEqual(
    out.changeSet.map((c) => c.outcome),
    ['reverted', 'reverted', 'failed', 'not-run'],
  );
  const rec = (await journal.read()) as JournalRecord;
  assert.equal(rec.status, 'rolled-back');
  assert.deepEqual(
    rec.steps.map((s) => s.state),
    ['undone', 'undone', 'failed', 'pending'],
  );
});

test('the journal on disk shows a step as started while it runs, so a crash there is visible', async () => {
  const journal = new Journal(dir);
  const seen: JournalRecord[] = [];
  const onRun = async (): Promise<void> => {
    seen.push(JSON.parse(await readFile(journal.path, 'utf8')) as JournalRecord);
  };
  await applyPlan(planOf(['a', 'b']), recording([], undefined, onRun), { journal, log, desired, specKey: 'k' });
  assert.deepEqual(
    seen.map((r) => r.steps.map((s) => s.state)),
    [
      ['started', 'pending'],
      ['done', 'started'],
    ],
  );
  assert.ok(seen.every((r) => isInterrupted(r)));
});

test('an aborted apply stops before the next step and undoes what it did', async () => {
  const calls: string[] = [];
  const controller = new AbortController();
  const onRun = (id: string): Promise<void> => {
    if (id === 'b') controller.abort();
    return Promise.resolve();
  };
  const out = await applyPlan(planOf(['a', 'b', 'c']), recording(calls, undefined, onRun), {
    journal: new Journal(dir),
    log,
    desired,
    specKey: 'k',
    signal: controller.signal,
  });
  assert.equal(out.error?.code, 'ApplyAborted');
  assert.deepEqual(calls, ['run a', 'run b', 'revert b', 'revert a']);
});

test('an executor map without every action does not compile', () => {
  const run = (): Promise<undefined> => Promise.resolve(undefined);
  // @ts-expect-error container.remove has no executor
  const incomplete: Executors = {
    'image.pull': run,
    'network.create': run,
    'network.remove': run,
    'volume.create': run,
    'container.create': run,
    'container.replace': run,
    'container.start': run,
    'container.rename': run,
  };
  assert.ok(incomplete);
});

test("an undo after a failed step runs with the caller's signal, not an aborted one", async () => {
  // The undo of a stopped app container starts it again and waits for its health: an aborted
  // signal there left the app down after a failed update.
  const journal = new Journal(path.join(dir, 'undo-signal'));
  const seen: (boolean | undefined)[] = [];
  const exec = (s: Step, ctx: ExecContext): Promise<Undo> => {
    if (s.id === 'b') return Promise.reject(new AgentError('StepFailed', 'b failed'));
    return Promise.resolve({
      revert: () => {
        seen.push(ctx.signal?.aborted);
        return Promise.resolve();
      },
    });
  };
  const executors = { 'network.create': exec } as unknown as Executors;
  const caller = new AbortController();
  const out = await applyPlan(planOf(['a', 'b']), executors, {
    journal,
    log,
    desired,
    specKey: 'k',
    signal: caller.signal,
  });
  assert.equal(out.error?.code, 'StepFailed');
  assert.deepEqual(seen, [false]);
  assert.equal(out.changeSet.find((c) => c.step === 'a')?.outcome, 'reverted');
});
