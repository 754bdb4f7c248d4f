import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { service } from '../../devenv/desired-builder.ts';
import { docker, TEST_LABEL } from '../../devenv/docker-env.ts';
import { makeStack, type Stack } from '../../devenv/engine-stack.ts';

let s: Stack;
before(async () => {
  s = await makeStack('rc-unowned');
});
after(async () => {
  await s.cleanup();
});

async function runForeign(name: string, labels: string[]): Promise<string> {
  const args = [
    'run',
    '-d',
    '--name',
    name,
    '--label',
    `${TEST_LABEL}=${s.label}`,
    ...labels.flatMap((l) => ['--label', l]),
  ];
  return (await docker(s.env, [...args, 'appliance-test/debian:bookworm', 'sleep', '600'])).stdout.trim();
}

async function stateOf(id: string): Promise<string> {
  return (await docker(s.env, ['inspect', '--format', '{{.Id}} {{.Name}} {{.State.Status}}', id])).stdout.trim();
}

test('containers the appliance does not own are never touched, whatever their names', async () => {
  const lookalike = await runForeign(`${s.owner}-web-prev`, []);
  const otherOwner = await runForeign(`${s.owner}-worker`, [
    'appliance.owner=someone-else',
    'appliance.service=worker',
  ]);
  const squatter = await runForeign(`${s.owner}-extra`, []);
  const before = await Promise.all([lookalike, otherOwner, squatter].map(stateOf));

  const extra = service({ name: 'extra', image: s.env.images['demo:v1'] ?? '', networks: ['default'] });
  const result = await s.apply(s.desired({ extra: [extra] }));
  assert.equal(result.applied, false);
  assert.equal(result.error?.code, 'NameConflict');
  assert.deepEqual(
    result.plan.conflicts.map((c) => c.name),
    [`${s.owner}-extra`],
  );
  assert.ok(!JSON.stringify(result.plan.steps).includes(squatter));
  assert.equal((await s.webRoot()).version, 'v1', 'the rest of the app is up');

  const pruning = await s.apply(s.desired());
  assert.equal(pruning.applied, true, JSON.stringify(pruning.error));
  assert.deepEqual(pruning.plan.steps, []);
  assert.deepEqual(await Promise.all([lookalike, otherOwner, squatter].map(stateOf)), before);
});
