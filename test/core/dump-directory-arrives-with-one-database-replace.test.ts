import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plan } from '../../agent/core/plan.ts';
import { applyAll } from './fake-machine.ts';
import { GOLDEN_KEY, GOLDEN_NOW, goldenCases } from './golden-cases.ts';

// An agent that adds the backup's dump directory finds the database container without its
// mount. PostgreSQL's data lives on its own volume: the container is replaced, nothing else.
const upgrade = goldenCases()['database-gets-the-dump-directory'];
if (upgrade === undefined) throw new Error('golden case missing');
const options = {
  now: GOLDEN_NOW,
  specKey: GOLDEN_KEY,
  ...(upgrade.inventory ? { lastApplied: upgrade.inventory } : {}),
};

test('the dump directory is created, then only the database container is replaced: no snapshot, migration or app restart', () => {
  const p = plan(upgrade.desired, upgrade.actual, options);
  assert.deepEqual(
    p.steps.map((s) => s.id),
    ['volume.create:/srv/acme/.appliance-backup-dump', 'container.replace:postgres'],
  );
  const replace = p.steps.find((s) => s.action === 'container.replace');
  assert.ok(replace !== undefined);
  assert.equal(replace.risk, 'disruptive');
  assert.match(replace.reason, /mounts/);
  assert.ok(replace.after.includes('volume.create:/srv/acme/.appliance-backup-dump'));
  assert.deepEqual(p.refused, []);
});

test('after the replace the plan is empty', () => {
  const first = plan(upgrade.desired, upgrade.actual, options);
  const after = applyAll(upgrade.actual, first.steps);
  assert.deepEqual(
    plan(upgrade.desired, after, options).steps.map((s) => s.id),
    [],
  );
});
