import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AgentError } from '../../../agent/core/errors.ts';
import type { ExecContext, Executors } from '../../../agent/core/executors.ts';
import type { Plan } from '../../../agent/core/plan.ts';
import { RISK, type Step } from '../../../agent/core/steps.ts';
import { applyPlan } from '../../../agent/engine/loop/apply.ts';
import { Journal, type JournalRecord } from '../../../agent/engine/loop/journal.ts';
import { createLogger } from '../../../agent/lib/log.ts';
import { desiredState } from '../../../devenv/desired-builder.ts';

// A first start pulls every image; the download phase runs its pulls side by side (the
// steps change nothing a running app sees), and the first failure stops the others.

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'downloads-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const log = createLogger({ level: 'silent' });
const desired = desiredState({ name: 'x', services: [] });
const refs = ['registry.test/a:1', 'registry.test/b:1', 'registry.test/c:1'];

function downloads(): Plan {
  const steps: Step[] = refs.map((ref) => ({
    id: `image.pull:${ref}`,
    action: 'image.pull',
    reason: 'not on this machine',
    after: [],
    risk: RISK['image.pull'],
    args: { ref, neededBy: ['app'] },
  }));
  return { owner: 'x', revision: 'r', createdAt: '', steps, orphans: [], conflicts: [], refused: [] };
}

/** Pulls that wait for each other: they finish only once all three have started (else time out). */
function pulls(fail?: string): { executors: Executors; maxInFlight: () => number; aborted: string[] } {
  let inFlight = 0;
  let max = 0;
  const aborted: string[] = [];
  let release: () => void = () => undefined;
  const allStarted = new Promise<void>((resolve) => {
    release = resolve;
  });
  const pull = async (step: Step, ctx: ExecContext): Promise<undefined> => {
    inFlight++;
    max = Math.max(max, inFlight);
    if (inFlight === refs.length) release();
    try {
      await Promise.race([
        allStarted,
        new Promise((_, reject) =>
          setTimeout(() => {
            reject(new Error('the others never started'));
          }, 2000),
        ),
      ]);
      if (step.id.endsWith(fail ?? '\0')) throw new AgentError('ImagePullFailed', `${step.id}: manifest unknown`);
      if (fail !== undefined)
        await new Promise((_, reject) =>
          ctx.signal?.addEventListener('abort', () => {
            aborted.push(step.id);
            reject(new Error('aborted'));
          }),
        );
      return undefined;
    } finally {
      inFlight--;
    }
  };
  return { executors: { 'image.pull': pull } as unknown as Executors, maxInFlight: () => max, aborted };
}

test('the pulls of a download phase run at once and all are journalled', async () => {
  const journal = new Journal(path.join(dir, 'ok'));
  const p = pulls();
  const out = await applyPlan(downloads(), p.executors, { journal, log, desired, specKey: 'k', parallel: 3 });
  assert.equal(out.error?.message, undefined);
  assert.equal(p.maxInFlight(), 3);
  const rec = JSON.parse(await readFile(journal.path, 'utf8')) as JournalRecord;
  assert.equal(rec.status, 'applied');
  assert.deepEqual(
    rec.steps.map((s) => s.state),
    ['done', 'done', 'done'],
  );
});

test('the first failed pull is the error and stops the others', async () => {
  const journal = new Journal(path.join(dir, 'failed'));
  const p = pulls('b:1');
  const out = await applyPlan(downloads(), p.executors, { journal, log, desired, specKey: 'k', parallel: 3 });
  assert.equal(out.ok, false);
  assert.equal(out.error?.code, 'ImagePullFailed');
  assert.deepEqual(p.aborted.sort(), [`image.pull:${refs[0]}`, `image.pull:${refs[2]}`]);
  assert.equal(out.changeSet.find((c) => c.step === `image.pull:${refs[1]}`)?.outcome, 'failed');
  const rec = JSON.parse(await readFile(journal.path, 'utf8')) as JournalRecord;
  assert.equal(rec.status, 'rolled-back');
  assert.equal(rec.error?.code, 'ImagePullFailed');
});

test('one at a time unless asked: a plan that changes the machine never runs side by side', async () => {
  const journal = new Journal(path.join(dir, 'serial'));
  const p = pulls();
  const out = await applyPlan(downloads(), p.executors, { journal, log, desired, specKey: 'k' });
  // The first pull waits for the others, which never start: it times out.
  assert.equal(out.ok, false);
  assert.equal(p.maxInFlight(), 1);
});
