import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { service } from '../../devenv/desired-builder.ts';
import { containersOf, makeStack, type Stack } from '../../devenv/engine-stack.ts';

let s: Stack;
before(async () => {
  s = await makeStack('rc-undo');
  const first = await s.apply(s.desired());
  assert.equal(first.applied, true, JSON.stringify(first.error));
});
after(async () => {
  await s.cleanup();
});

async function journal(): Promise<{ status: string; steps: { id: string; state: string }[] }> {
  return JSON.parse(await readFile(path.join(s.stateDir, 'journal.json'), 'utf8')) as {
    status: string;
    steps: { id: string; state: string }[];
  };
}

test('a step failing mid-apply undoes the steps before it; the old containers keep running', async () => {
  const web = await s.idOf('web');
  const postgres = await s.idOf('postgres');
  // v4 is built to fail its health check: creating it fails after web was already replaced.
  const broken = service({
    name: 'worker',
    image: s.env.images['demo:v4'] ?? '',
    networks: ['backend'],
    dependsOn: ['web'],
    env: { DATABASE_URL: 'postgresql://demo@postgres:5432/demo' },
    healthcheck: {
      http: { port: 8080, path: '/healthz', status: 200 },
      intervalSeconds: 1,
      timeoutSeconds: 1,
      retries: 2,
      startPeriodSeconds: 0,
    },
  });
  const result = await s.apply(s.desired({ webEnv: { DEMO_BANNER: 'new' }, extra: [broken] }));
  assert.equal(result.applied, false);
  assert.equal(result.error?.code, 'HealthCheckFailed');
  assert.deepEqual(
    result.changeSet.map((c) => [c.step, c.outcome]),
    [
      ['container.replace:web', 'reverted'],
      ['container.create:worker', 'failed'],
    ],
  );
  assert.equal(await s.idOf('web'), web, 'the old web container is back');
  assert.equal(await s.idOf('postgres'), postgres);
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
  const env = await s.docker.getContainer(`${s.owner}-web`).inspect();
  assert.ok(!env.Config.Env.some((e) => e.startsWith('DEMO_BANNER=')));
  assert.equal((await s.webRoot()).version, 'v1');
  const j = await journal();
  assert.equal(j.status, 'rolled-back');
  assert.deepEqual(
    j.steps.map((st) => [st.id, st.state]),
    [
      ['container.replace:web', 'undone'],
      ['container.create:worker', 'failed'],
    ],
  );
});

test('an image that does not exist fails the pull before anything changes', async () => {
  const web = await s.idOf('web');
  const missing = `127.0.0.1:5000/appliance-test-missing@sha256:${'0'.repeat(64)}`;
  const ghost = service({ name: 'ghost', image: missing, networks: ['default'] });
  const result = await s.apply(s.desired({ webEnv: { DEMO_BANNER: 'new' }, extra: [ghost] }));
  assert.equal(result.applied, false);
  assert.equal(result.error?.code, 'ImagePullFailed');
  assert.deepEqual(result.changeSet.map((c) => [c.step, c.outcome])[0], [`image.pull:${missing}`, 'failed']);
  assert.ok(result.changeSet.slice(1).every((c) => c.outcome === 'not-run'));
  assert.equal(await s.idOf('web'), web);

  const fixed = await s.apply(s.desired());
  assert.equal(fixed.applied, true, JSON.stringify(fixed.error));
  assert.deepEqual(fixed.plan.steps, []);
});
