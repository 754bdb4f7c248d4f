import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { containersOf, makeStack, oneOffsOf, withDemoCommands, type Stack } from '../../devenv/engine-stack.ts';

let s: Stack;
before(async () => {
  s = await makeStack('rc-migrate-first', { seedSchema: false });
});
after(async () => {
  await s.cleanup();
});

test('a first install starts the database, migrates it in a one-off container, then starts web', async () => {
  const desired = withDemoCommands(s.desired());
  const result = await s.apply(desired);
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.applied, true);
  const ids = result.plan.steps.map((st) => st.id);
  assert.ok(ids.includes('app.migrate:web'), ids.join(', '));
  assert.ok(!ids.some((id) => id.startsWith('snapshot.')), 'no data yet: no snapshot');
  assert.ok(ids.indexOf('container.create:postgres') < ids.indexOf('app.migrate:web'));
  assert.ok(ids.indexOf('app.migrate:web') < ids.indexOf('container.create:web'));
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
  assert.deepEqual(await s.webRoot(), { version: 'v1', rows: 0 });

  const records = JSON.parse(await readFile(path.join(s.stateDir, 'migrations.json'), 'utf8')) as {
    current: { imageRef: string; state: string; revision: string };
  };
  assert.equal(records.current.imageRef, s.env.images['demo:v1']);
  assert.equal(records.current.state, '001_items\n');
  assert.deepEqual(await oneOffsOf(s.env, s.owner), [], 'one-off containers are removed');
  assert.ok(!s.logLines.join('').includes(s.password), 'the password was logged');

  const again = await s.apply(desired);
  assert.equal(again.applied, true);
  assert.deepEqual(again.plan.steps, [], 'the recorded migration state makes the next plan empty');
});
