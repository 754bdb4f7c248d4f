import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inventoryOf } from '../../agent/core/actual.ts';
import { LABELS } from '../../agent/core/names.ts';
import { desiredContainers } from '../../agent/core/normalize.ts';
import { planJson, renderPlan } from '../../agent/core/plan-render.ts';
import { plan } from '../../agent/core/plan.ts';
import { desiredState, service } from '../../devenv/desired-builder.ts';
import { applyAll, emptyMachine } from './fake-machine.ts';

const KEY = 'k';
const now = new Date(0);
const IMG = 'registry.example/app:1';

function state(env: Record<string, string | { secret: string }>, extra: { restart?: 'always' } = {}) {
  return desiredState({
    name: 'shop',
    services: [
      service({ name: 'db', image: 'registry.example/db:15', env: { POSTGRES_PASSWORD: { secret: 'pw-one-1234' } } }),
      service({ name: 'web', image: IMG, env, dependsOn: ['db'], ...extra }),
    ],
  });
}

test('a secret change is named but its value and digest are not shown', () => {
  const before = state({ DATABASE_PASSWORD: { secret: 'old-secret-value' }, MODE: 'a' });
  const after = state({ DATABASE_PASSWORD: { secret: 'new-secret-value' }, MODE: 'b' });
  const machine = applyAll(emptyMachine('shop'), plan(before, emptyMachine('shop'), { now, specKey: KEY }).steps);
  const p = plan(after, machine, { now, specKey: KEY, lastApplied: inventoryOf(machine, 'r1') });
  assert.deepEqual(
    p.steps.map((s) => [s.id, s.reason]),
    [['container.replace:web', 'secret env DATABASE_PASSWORD changed; env MODE changed']],
    'only web is touched',
  );
  const out = renderPlan(p) + planJson(p);
  for (const secret of ['old-secret-value', 'new-secret-value', 'pw-one-1234']) assert.ok(!out.includes(secret));
});

test('the spec hash depends on secret values and on the key, and the spec holds only digests', () => {
  const a = desiredContainers(state({ P: { secret: 'one' } }), KEY)[1];
  const b = desiredContainers(state({ P: { secret: 'two' } }), KEY)[1];
  const c = desiredContainers(state({ P: { secret: 'one' } }), 'another key')[1];
  assert.ok(a !== undefined && b !== undefined && c !== undefined);
  assert.notEqual(a.specHash, b.specHash);
  assert.notEqual(a.specHash, c.specHash);
  assert.ok(!JSON.stringify(a.spec).includes('"one"'));
  assert.match(JSON.stringify(a.spec.env['P']), /hmac-sha256:[0-9a-f]{64}/);
});

test('objects of other owners are never in a plan, even with the names the app wants', () => {
  const desired = state({ MODE: 'a' });
  const machine = emptyMachine('shop');
  machine.foreign.containers.push('shop-web', 'shop-db-old');
  const p = plan(desired, machine, { now, specKey: KEY });
  assert.ok(!p.steps.some((s) => JSON.stringify(s.args).includes('shop-db-old')));
  assert.ok(!p.steps.some((s) => s.id.endsWith(':web')), 'web is blocked, not created');
  assert.deepEqual(
    p.conflicts.map((c) => c.name),
    ['shop-web'],
  );
});

test('an owned container not in the last applied inventory is reported, not removed', () => {
  const desired = state({ MODE: 'a' });
  const machine = applyAll(emptyMachine('shop'), plan(desired, emptyMachine('shop'), { now, specKey: KEY }).steps);
  const inventory = inventoryOf(machine, 'r1');
  machine.containers.push({
    id: 'x1',
    name: 'shop-tool',
    service: 'tool',
    imageRef: IMG,
    imageId: 'sha256:1',
    dependsOn: [],
    networks: [],
    state: 'running',
    health: 'none',
    labels: { [LABELS.owner]: 'shop' },
  });
  const p = plan(desired, machine, { now, specKey: KEY, lastApplied: inventory });
  assert.deepEqual(p.steps, []);
  assert.deepEqual(
    p.orphans.map((o) => o.name),
    ['shop-tool'],
  );
  const pruned = plan(desired, machine, { now, specKey: KEY, lastApplied: inventoryOf(machine, 'r2') });
  assert.deepEqual(
    pruned.steps.map((s) => s.id),
    ['container.remove:shop-tool'],
  );
});

test('a restart policy changed by hand is put back; dependants are removed before their dependencies', () => {
  const desired = state({ MODE: 'a' });
  const machine = applyAll(emptyMachine('shop'), plan(desired, emptyMachine('shop'), { now, specKey: KEY }).steps);
  const web = machine.containers.find((c) => c.service === 'web');
  assert.ok(web?.spec !== undefined);
  web.spec.restart = 'no';
  const p = plan(desired, machine, { now, specKey: KEY });
  assert.deepEqual(
    p.steps.map((s) => [s.id, s.reason]),
    [['container.replace:web', 'restart no → unless-stopped']],
  );

  const none = desiredState({ name: 'shop', services: [] });
  const gone = plan(none, machine, { now, specKey: KEY, lastApplied: inventoryOf(machine, 'r1') });
  assert.deepEqual(
    gone.steps.map((s) => s.id),
    ['container.remove:shop-web', 'container.remove:shop-db', 'network.remove:shop-default'],
  );
  assert.deepEqual(gone.steps[1]?.after, ['container.remove:shop-web']);
});
