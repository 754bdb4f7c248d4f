import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { containersOf, makeStack, type Stack } from '../../devenv/engine-stack.ts';

let s: Stack;
before(async () => {
  s = await makeStack('rc-env');
});
after(async () => {
  await s.cleanup();
});

test('an env change replaces exactly the affected container; the others keep their ids', async () => {
  assert.equal((await s.apply(s.desired())).applied, true);
  const postgres = await s.idOf('postgres');
  const web = await s.idOf('web');

  const result = await s.apply(s.desired({ webEnv: { DEMO_BANNER: 'maintenance tonight' } }));
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.applied, true);
  assert.deepEqual(
    result.plan.steps.map((st) => [st.id, st.reason]),
    [['container.replace:web', 'env DEMO_BANNER added']],
  );
  assert.equal(await s.idOf('postgres'), postgres);
  const newWeb = await s.idOf('web');
  assert.ok(newWeb !== undefined && newWeb !== web);
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
  assert.equal((await s.webRoot()).version, 'v1');

  const env = await s.docker.getContainer(`${s.owner}-web`).inspect();
  assert.ok(env.Config.Env.includes('DEMO_BANNER=maintenance tonight'));
});
