import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError } from '../../../agent/core/errors.ts';
import { condition, type CycleOutcome } from '../../../agent/core/status.ts';
import { Reconciler, nextDelay } from '../../../agent/engine/loop/schedule.ts';
import { createLogger } from '../../../agent/lib/log.ts';
import { Writable } from 'node:stream';

const quiet = createLogger({
  destination: new Writable({
    write: (_c, _e, cb) => {
      cb();
    },
  }),
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('triggers during a cycle coalesce into one follow-up cycle, never two at once', async () => {
  let active = 0;
  let maxActive = 0;
  const triggers: string[] = [];
  const gate = deferred();
  const r = new Reconciler(
    {
      log: quiet,
      cycle: async (trigger) => {
        triggers.push(trigger);
        active++;
        maxActive = Math.max(maxActive, active);
        if (triggers.length === 1) await gate.promise;
        active--;
        return { kind: 'unchanged', revision: 'abc' };
      },
    },
    { appliance: 'demo', intervalMs: 60_000 },
  );
  const first = r.trigger('webhook');
  const second = r.trigger('webhook');
  const third = r.trigger('poll');
  assert.equal(second, third, 'triggers while busy share one follow-up');
  gate.resolve();
  await Promise.all([first, second]);
  await r.stop();
  assert.deepEqual(triggers, ['webhook', 'webhook']);
  assert.equal(maxActive, 1);
  assert.equal(r.status.history.length, 2);
});

test('a terminal error stalls with its code as reason; success clears it', async () => {
  const outcomes: (CycleOutcome | Error)[] = [
    new AgentError('ConfigInvalid', 'appliance.yml: /images/web: must be string', {
      terminal: true,
      data: { revision: 'bad1' },
    }),
    { kind: 'applied', revision: 'good2', steps: 3 },
  ];
  const r = new Reconciler(
    {
      log: quiet,
      cycle: () => {
        const o = outcomes.shift();
        if (o instanceof Error) return Promise.reject(o);
        return Promise.resolve(o ?? { kind: 'unchanged', revision: 'good2' });
      },
    },
    { appliance: 'demo', intervalMs: 60_000 },
  );
  await r.trigger('start');
  assert.equal(condition(r.status, 'Stalled')?.status, true);
  assert.equal(condition(r.status, 'Stalled')?.reason, 'ConfigInvalid');
  assert.equal(condition(r.status, 'Ready')?.status, false);
  assert.equal(r.status.stalledRevision, 'bad1');
  assert.equal(r.status.lastAttemptedRevision, 'bad1');
  assert.equal(r.status.lastAppliedRevision, undefined);
  await r.trigger('webhook');
  assert.equal(condition(r.status, 'Ready')?.status, true);
  assert.equal(condition(r.status, 'Stalled')?.status, false);
  assert.equal(r.status.lastAppliedRevision, 'good2');
  assert.equal(r.status.stalledRevision, undefined);
  assert.deepEqual(r.status.cycles, { applied: 1, unchanged: 0, stalled: 1, failed: 0 });
  await r.stop();
});

test('transient failures back off exponentially up to the interval, with jitter', () => {
  const opts = { intervalMs: 60_000, backoffBaseMs: 1000, jitter: 0.1 };
  assert.equal(nextDelay(0, opts, 0.5), 60_000);
  assert.equal(nextDelay(1, opts, 0.5), 1000);
  assert.equal(nextDelay(3, opts, 0.5), 4000);
  assert.equal(nextDelay(30, opts, 0.5), 60_000);
  assert.equal(nextDelay(0, opts, 0), 54_000);
  assert.equal(nextDelay(0, opts, 1), 66_000);
});

test('the loop polls again on its own after the interval', async () => {
  let cycles = 0;
  const polled = deferred();
  const r = new Reconciler(
    {
      log: quiet,
      cycle: (trigger) => {
        cycles++;
        if (trigger === 'poll') polled.resolve();
        return Promise.resolve({ kind: 'unchanged', revision: 'abc' });
      },
    },
    { appliance: 'demo', intervalMs: 20, jitter: 0 },
  );
  r.start();
  await polled.promise;
  await r.stop();
  assert.ok(cycles >= 2);
});

test('a non-agent error counts as a transient failure and the status says so', async () => {
  const r = new Reconciler(
    { log: quiet, cycle: () => Promise.reject(new Error('socket hang up')) },
    { appliance: 'demo', intervalMs: 60_000 },
  );
  const outcome = await r.trigger('start');
  assert.equal(outcome.kind, 'failed');
  assert.equal(condition(r.status, 'Stalled')?.status, false);
  assert.equal(condition(r.status, 'Ready')?.reason, 'InternalError');
  assert.equal(r.status.lastError?.message, 'socket hang up');
  await r.stop();
});

test('an exclusive job waits for the running cycle, and cycles triggered meanwhile run once after it', async () => {
  const events: string[] = [];
  const cycleGate = deferred();
  const jobGate = deferred();
  let cycles = 0;
  const r = new Reconciler(
    {
      log: quiet,
      cycle: async (trigger) => {
        cycles++;
        events.push(`cycle ${trigger} start`);
        if (cycles === 1) await cycleGate.promise;
        events.push(`cycle ${trigger} end`);
        return { kind: 'unchanged', revision: 'abc' };
      },
    },
    { appliance: 'demo', intervalMs: 60_000 },
  );
  const first = r.trigger('poll');
  const job = r.exclusive(async () => {
    events.push('job start');
    await jobGate.promise;
    events.push('job end');
    return 42;
  });
  cycleGate.resolve();
  await first;
  // The job holds the loop now: triggers wait for it and coalesce.
  await new Promise((resolve) => setImmediate(resolve));
  const a = r.trigger('webhook');
  const b = r.trigger('poll');
  assert.equal(a, b);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(events, ['cycle poll start', 'cycle poll end', 'job start']);
  jobGate.resolve();
  assert.equal(await job, 42);
  await a;
  await r.stop();
  assert.deepEqual(events, [
    'cycle poll start',
    'cycle poll end',
    'job start',
    'job end',
    'cycle webhook start',
    'cycle webhook end',
  ]);
});

test('a failing exclusive job releases the loop', async () => {
  const r = new Reconciler(
    { log: quiet, cycle: () => Promise.resolve({ kind: 'unchanged', revision: 'abc' }) },
    { appliance: 'demo', intervalMs: 60_000 },
  );
  await assert.rejects(
    r.exclusive(() => Promise.reject(new Error('restic exploded'))),
    /restic exploded/,
  );
  const outcome = await r.trigger('poll');
  assert.equal(outcome.kind, 'unchanged');
  await r.stop();
});

test('afterWork runs once the loop is idle after a cycle that did something or a job, never for no-ops', async () => {
  const outcomes: CycleOutcome[] = [
    { kind: 'unchanged', revision: 'a' },
    { kind: 'applied', revision: 'b', steps: 2 },
    { kind: 'applied', revision: 'c', steps: 1 },
  ];
  const calls: string[] = [];
  const gate = deferred();
  const r = new Reconciler(
    {
      log: quiet,
      cycle: async () => {
        const outcome = outcomes.shift() ?? { kind: 'unchanged', revision: 'c' };
        calls.push(`cycle ${outcome.kind}`);
        // The cycle after the second apply is still running when that apply ends.
        if (calls.length === 5) await gate.promise;
        return outcome;
      },
      afterWork: () => calls.push('afterWork'),
    },
    { appliance: 'demo', intervalMs: 60_000 },
  );
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  await r.trigger('poll');
  await tick();
  await r.trigger('poll');
  await tick();
  const applied = r.trigger('webhook');
  const followUp = r.trigger('webhook');
  await applied;
  await tick();
  await tick();
  assert.deepEqual(calls.slice(3), ['cycle applied', 'cycle unchanged'], 'nothing while the follow-up runs');
  gate.resolve();
  await followUp;
  await tick();
  await r.exclusive(() => Promise.resolve('backup'));
  await tick();
  await r.stop();
  assert.deepEqual(calls, [
    'cycle unchanged',
    'cycle applied',
    'afterWork',
    'cycle applied',
    'cycle unchanged',
    'afterWork',
    'afterWork',
  ]);
});
