import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { isAgentError } from '../../../agent/core/errors.ts';
import { Reconciler } from '../../../agent/engine/loop/schedule.ts';
import { createLogger } from '../../../agent/lib/log.ts';

const quiet = createLogger({
  destination: new Writable({
    write: (_c, _e, cb) => {
      cb();
    },
  }),
});

/** A reconciler whose cycles log what they saw: whether a background job was still running. */
function loop(events: string[], state: { jobRunning: boolean }): Reconciler {
  return new Reconciler(
    {
      log: quiet,
      cycle: (trigger) => {
        events.push(`cycle ${trigger}${state.jobRunning ? ' (job still running!)' : ''}`);
        return Promise.resolve({ kind: 'unchanged', revision: 'abc' });
      },
    },
    { appliance: 'demo', intervalMs: 60_000 },
  );
}

/** A background job that runs until aborted (then cleans up for a while) or until `finish`. */
function job(events: string[], state: { jobRunning: boolean }) {
  let finish = (): void => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let begin = (): void => undefined;
  const started = new Promise<void>((resolve) => (begin = resolve));
  const fn = async (signal: AbortSignal): Promise<string> => {
    state.jobRunning = true;
    events.push('job started');
    begin();
    const aborted = new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => {
        resolve();
      });
    });
    await Promise.race([finished, aborted]);
    await new Promise((resolve) => setTimeout(resolve, 30)); // removing the clone
    state.jobRunning = false;
    if (signal.aborted) {
      events.push('job yielded');
      throw signal.reason;
    }
    events.push('job done');
    return 'done';
  };
  return { fn, finish, started };
}

test('a webhook cycle makes the background job yield and does not wait for its clean-up', async () => {
  const events: string[] = [];
  const state = { jobRunning: false };
  const r = loop(events, state);
  const j = job(events, state);
  const running = r.background(j.fn);
  await j.started;
  await r.trigger('webhook');
  await assert.rejects(running, (err: unknown) => isAgentError(err, 'PreflightYielded'));
  await r.stop();
  assert.deepEqual(events, ['job started', 'cycle webhook (job still running!)', 'job yielded']);
});

test('a poll runs beside the background job without stopping it', async () => {
  const events: string[] = [];
  const state = { jobRunning: false };
  const r = loop(events, state);
  const j = job(events, state);
  const running = r.background(j.fn);
  await j.started;
  await r.trigger('poll');
  j.finish();
  assert.equal(await running, 'done');
  await r.stop();
  assert.deepEqual(events, ['job started', 'cycle poll (job still running!)', 'job done']);
});

test('a background job starts only after the cycle in progress and the one waiting', async () => {
  const events: string[] = [];
  const state = { jobRunning: false };
  const r = loop(events, state);
  const first = r.trigger('start');
  const second = r.trigger('webhook');
  const j = job(events, state);
  const running = r.background(j.fn);
  await Promise.all([first, second, j.started]);
  j.finish();
  await running;
  await r.stop();
  assert.deepEqual(events, ['cycle start', 'cycle webhook', 'job started', 'job done']);
});

test('a background job may take the loop for a moment (a snapshot) without waiting for itself', async () => {
  const events: string[] = [];
  const state = { jobRunning: false };
  const r = loop(events, state);
  const result = await r.background(async () => {
    await r.exclusive(() => {
      events.push('snapshot');
      return Promise.resolve();
    });
    return 'cloned';
  });
  assert.equal(result, 'cloned');
  const second = r.background(() => Promise.resolve('second'));
  assert.equal(await second, 'second');
  await r.stop();
  assert.deepEqual(events, ['snapshot']);
});

test('one background job at a time', async () => {
  const events: string[] = [];
  const state = { jobRunning: false };
  const r = loop(events, state);
  const j = job(events, state);
  const first = r.background(j.fn);
  await j.started;
  const second = r.background(() => {
    events.push(`second${state.jobRunning ? ' (first still running!)' : ''}`);
    return Promise.resolve();
  });
  j.finish();
  await Promise.all([first, second]);
  await r.stop();
  assert.deepEqual(events, ['job started', 'job done', 'second']);
});
