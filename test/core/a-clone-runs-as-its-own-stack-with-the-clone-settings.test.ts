import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLONE_LABELS, cloneDesired } from '../../agent/core/clone-state.ts';
import { demoDesired, withDemoCommands } from '../../devenv/desired-builder.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';

function production() {
  const d = withDemoCommands(
    demoDesired({ owner: 'demo', postgresImage: 'pg', webImage: 'web:v1', password: 'pw', dataDir: '/data/pg' }),
  );
  return withIngress(d, { image: 'caddy', dataPath: '/data', ports: { http: 80, https: 443 } });
}

test("a clone's stack has its own owner, its data in the clone's directory, no ingress and no host port", () => {
  const prod = production();
  const c = cloneDesired(
    'demo',
    prod,
    'qa',
    { DEMO_BANNER: 'CLONE' },
    { dataDir: '/data/clones/qa', volatileDir: '/run/v/clones/qa' },
  );
  assert.equal(c.name, 'demo-qa');
  assert.deepEqual(
    c.app.services.map((s) => s.name),
    ['postgres', 'web'],
  );
  assert.equal(c.app.ingress.proxy, undefined);
  assert.ok(c.app.services.every((s) => s.ports.length === 0));
  assert.deepEqual(
    c.app.volumes.map((v) => [v.name, v.hostPath]),
    [['pgdata', '/data/clones/qa/pgdata']],
  );
  assert.equal((c.site as unknown as { storage: { paths: { data: string } } }).storage.paths.data, '/data/clones/qa');
  // Production's state is not changed by it.
  assert.equal(prod.name, 'demo');
  assert.ok(prod.app.services.some((s) => s.name === 'ingress'));
  assert.equal(prod.app.volumes.find((v) => v.name === 'pgdata')?.hostPath, '/data/pg');
});

test('the clone settings go into the app services and their commands, never into the database', () => {
  const c = cloneDesired('demo', production(), 'qa', { DEMO_BANNER: 'CLONE' }, { dataDir: '/d', volatileDir: '/v' });
  const web = c.app.services.find((s) => s.name === 'web');
  const pg = c.app.services.find((s) => s.name === 'postgres');
  assert.ok(web !== undefined && pg !== undefined);
  assert.deepEqual(web.environment['DEMO_BANNER'], { value: 'CLONE', secret: false });
  assert.equal(pg.environment['DEMO_BANNER'], undefined);
  assert.deepEqual(c.app.commands.migrate?.environment['DEMO_BANNER'], { value: 'CLONE', secret: false });
  assert.equal(web.labels[CLONE_LABELS.of], 'demo');
  assert.equal(web.labels[CLONE_LABELS.name], 'qa');
  assert.deepEqual(JSON.parse(web.labels[CLONE_LABELS.routes] ?? '[]'), [
    { path: '/', port: 8080, clientCerts: 'off' },
  ]);
  assert.equal(pg.labels[CLONE_LABELS.routes], undefined);
});
