import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DesiredState } from '../../agent/core/desired.ts';
import type { Policies } from '../../agent/core/config-types.gen.ts';
import { makeStack, type Stack } from '../../devenv/engine-stack.ts';

// demo:v4 never answers /healthz with 200. The demo's web check alone would allow it 26 s
// (start 3 + (interval 1 + timeout 2) × 6 + 5).
let s: Stack;
before(async () => {
  s = await makeStack('rc-health');
  const first = await s.apply(s.desired());
  assert.equal(first.applied, true, JSON.stringify(first.error));
});
after(async () => {
  await s.cleanup();
});

function v4(rollback: { on_failed_health: boolean; health_timeout_seconds: number }): DesiredState {
  const d = s.desired({ webImage: s.env.images['demo:v4'] ?? '' });
  d.policies = {
    rollback: { ...rollback, reverse_migrations: true, allow_snapshot_restore: null },
  } as unknown as Policies;
  return d;
}

test('health_timeout_seconds is the health gate timeout; on_failed_health true rolls back', async () => {
  const started = Date.now();
  const result = await s.apply(v4({ on_failed_health: true, health_timeout_seconds: 10 }));
  const seconds = (Date.now() - started) / 1000;
  assert.equal(result.applied, false);
  assert.equal(result.error?.code, 'HealthCheckFailed');
  assert.match(result.error.message, /did not become healthy in 10s/);
  assert.ok(seconds < 24, `the apply took ${seconds} s: the gate did not use the policy's 10 s`);
  assert.equal((await s.webRoot()).version, 'v1');
});

test('on_failed_health false keeps the new version and reports why instead of rolling back', async () => {
  const result = await s.apply(v4({ on_failed_health: false, health_timeout_seconds: 10 }));
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.equal(result.unhealthy?.code, 'HealthCheckFailed');
  assert.match(result.unhealthy.message, /on_failed_health is false/);
  assert.deepEqual(
    result.changeSet.filter((c) => c.action !== 'image.pull').map((c) => [c.step, c.outcome]),
    [['container.replace:web', 'applied']],
  );
  const web = await s.docker.getContainer(`${s.owner}-web`).inspect();
  assert.equal(web.State.Running, true);
  assert.equal(web.Config.Image, s.env.images['demo:v4']);
  // The next pass has nothing to undo or redo: v4 stays.
  const again = await s.apply(v4({ on_failed_health: false, health_timeout_seconds: 10 }));
  assert.deepEqual(again.plan.steps, []);
});
