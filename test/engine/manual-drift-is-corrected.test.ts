import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { docker } from '../../devenv/docker-env.ts';
import { containersOf, makeStack, type Stack } from '../../devenv/engine-stack.ts';

let s: Stack;
before(async () => {
  s = await makeStack('rc-drift');
  const first = await s.apply(s.desired());
  assert.equal(first.applied, true, JSON.stringify(first.error));
});
after(async () => {
  await s.cleanup();
});

test('a container stopped by hand is started again (same container)', async () => {
  const web = await s.idOf('web');
  await docker(s.env, ['stop', `${s.owner}-web`]);
  const result = await s.apply(s.desired());
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.deepEqual(
    result.plan.steps.map((st) => st.id),
    ['container.start:web'],
  );
  assert.match(result.plan.steps[0]?.reason ?? '', /not running \(exited/);
  assert.equal(await s.idOf('web'), web);
  assert.equal((await s.webRoot()).version, 'v1');
});

test('a container removed by hand is created again', async () => {
  await docker(s.env, ['rm', '-f', `${s.owner}-postgres`]);
  const result = await s.apply(s.desired());
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.deepEqual(
    result.plan.steps.map((st) => [st.id, st.reason]),
    [['container.create:postgres', `container ${s.owner}-postgres is missing (removed outside the agent)`]],
  );
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
  assert.equal((await s.webRoot()).version, 'v1');
});

test('a container renamed by hand gets its name back', async () => {
  const web = await s.idOf('web');
  await docker(s.env, ['rename', `${s.owner}-web`, `${s.owner}-web-by-hand`]);
  const result = await s.apply(s.desired());
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.deepEqual(
    result.plan.steps.map((st) => st.id),
    ['container.rename:web'],
  );
  assert.equal(await s.idOf('web'), web);
});

test('a restart policy changed by hand is put back by a replace', async () => {
  await docker(s.env, ['update', '--restart', 'no', `${s.owner}-web`]);
  const result = await s.apply(s.desired());
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.deepEqual(
    result.plan.steps.map((st) => [st.id, st.reason]),
    [['container.replace:web', 'restart no → unless-stopped']],
  );
  const policy = await docker(s.env, ['inspect', '--format', '{{.HostConfig.RestartPolicy.Name}}', `${s.owner}-web`]);
  assert.equal(policy.stdout.trim(), 'unless-stopped');
});

test('an interrupted replace is seen in the journal, and its leftover is cleared away', async () => {
  await writeFile(
    path.join(s.stateDir, 'journal.json'),
    JSON.stringify({ owner: s.owner, revision: 'r0', startedAt: '', updatedAt: '', status: 'applying', steps: [] }),
  );
  await docker(s.env, ['stop', `${s.owner}-web`]);
  await docker(s.env, ['rename', `${s.owner}-web`, `${s.owner}-web-prev`]);
  const result = await s.apply(s.desired());
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.equal(result.interrupted?.status, 'applying');
  assert.deepEqual(
    result.plan.steps.map((st) => [st.id, st.reason]),
    [
      [`container.remove:${s.owner}-web-prev`, 'leftover of an interrupted replace'],
      ['container.create:web', `container ${s.owner}-web is missing (removed outside the agent)`],
    ],
  );
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
});
