import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plan } from '../../agent/core/plan.ts';
import { GOLDEN_KEY, GOLDEN_NOW, goldenCases } from './golden-cases.ts';

const fresh = goldenCases()['fresh-appliance-recovers-from-backup'];
if (fresh === undefined) throw new Error('golden case missing');
const options = { now: GOLDEN_NOW, specKey: GOLDEN_KEY };

test('recovery runs after the database is up and before migrations and the app', () => {
  const p = plan(fresh.desired, fresh.actual, options);
  const ids = p.steps.map((s) => s.id);
  const recover = p.steps.find((s) => s.action === 'data.recover');
  assert.ok(recover !== undefined);
  assert.ok(recover.after.includes('container.create:postgres'));
  assert.ok(ids.indexOf(recover.id) < ids.indexOf('app.migrate:web'));
  const migrate = p.steps.find((s) => s.action === 'app.migrate');
  assert.ok(migrate !== undefined);
  assert.equal(migrate.args.asked, false, 'the recovered database is asked again');
  assert.ok(migrate.after.includes(recover.id));
});

test('once the app has run, or the database has data, nothing is recovered although the flag stays set', () => {
  const recovers = (actual: typeof fresh.actual): boolean =>
    plan(fresh.desired, actual, options).steps.some((s) => s.action === 'data.recover');
  // The demo after its first apply (containers up), with a database that looks empty.
  const ran = structuredClone(goldenCases()['no-changes']?.actual ?? fresh.actual);
  if (fresh.actual.migration !== undefined) ran.migration = { ...fresh.actual.migration, dataExists: false };
  assert.ok(ran.containers.some((c) => c.service === 'web'));
  assert.equal(recovers(ran), false);

  const withData = structuredClone(fresh.actual);
  if (withData.migration !== undefined) withData.migration.dataExists = true;
  assert.equal(recovers(withData), false);
  assert.equal(recovers(fresh.actual), true);
});

test('recover_from_dump plans the dump as its source', () => {
  const desired = structuredClone(fresh.desired);
  desired.site = { ...desired.site, recover_from_backup: false, recover_from_dump: '/srv/import/shop.dump.gz' };
  const step = plan(desired, fresh.actual, options).steps.find((s) => s.action === 'data.recover');
  assert.deepEqual(step?.args, { source: 'dump', dump: '/srv/import/shop.dump.gz' });
});
