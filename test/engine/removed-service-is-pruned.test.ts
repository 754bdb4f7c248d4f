import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { service } from '../../devenv/desired-builder.ts';
import { docker, TEST_LABEL } from '../../devenv/docker-env.ts';
import { containersOf, makeStack, type Stack } from '../../devenv/engine-stack.ts';

let s: Stack;
before(async () => {
  s = await makeStack('rc-prune');
});
after(async () => {
  await s.cleanup();
});

test('a service removed from the app is pruned from the inventory; its network goes too', async () => {
  const worker = service({
    name: 'worker',
    image: s.env.images['demo:v1'] ?? '',
    command: ['serve'],
    env: { PORT: '8081', DATABASE_URL: 'postgresql://demo@postgres:5432/demo' },
    networks: ['backend', 'jobs'],
    dependsOn: ['postgres'],
  });
  const withWorker = s.desired({ extra: [worker] });
  withWorker.app.networks.push({ name: 'jobs', internal: false });
  const first = await s.apply(withWorker);
  assert.equal(first.error, undefined, JSON.stringify(first.error));
  assert.deepEqual(await containersOf(s.env, s.owner), [
    `${s.owner}-postgres running`,
    `${s.owner}-web running`,
    `${s.owner}-worker running`,
  ]);
  const web = await s.idOf('web');

  const result = await s.apply(s.desired());
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.applied, true);
  assert.deepEqual(
    result.plan.steps.map((st) => [st.id, st.reason]),
    [
      [`container.remove:${s.owner}-worker`, 'service worker is no longer in the app'],
      [`network.remove:${s.owner}-jobs`, 'network jobs is no longer in the app'],
    ],
  );
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
  assert.equal(await s.idOf('web'), web);
  const nets = await docker(s.env, [
    'network',
    'ls',
    '--filter',
    `label=${TEST_LABEL}=${s.label}`,
    '--format',
    '{{.Name}}',
  ]);
  assert.deepEqual(nets.stdout.split('\n').filter(Boolean).sort(), [
    `${s.owner}-backend.internal`,
    `${s.owner}-default`,
  ]);
});
