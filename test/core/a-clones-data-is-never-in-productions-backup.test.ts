import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backupTargetOf } from '../../agent/core/backup-target.ts';
import { cloneDataDir, cloneDesired } from '../../agent/core/clone-state.ts';
import { demoDesired, withDemoCommands } from '../../devenv/desired-builder.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';

test("production's backup reads none of a clone's data, and a clone's desired state is no backup's", () => {
  const prod = withIngress(
    withDemoCommands(
      demoDesired({ owner: 'demo', postgresImage: 'pg', webImage: 'web:v1', password: 'pw', dataDir: '/data/pg' }),
    ),
    { image: 'caddy', dataPath: '/data', ports: { http: 80, https: 443 } },
  );
  const pgdata = prod.app.volumes.find((v) => v.name === 'pgdata');
  assert.ok(pgdata !== undefined);
  // A files volume that is backed up, beside the database (dumped, not copied).
  prod.app.volumes.push({ ...pgdata, name: 'uploads', kind: 'data', hostPath: '/data/uploads', backup: true });
  const web = prod.app.services.find((s) => s.name === 'web');
  assert.ok(web !== undefined);
  web.mounts.push({ volume: 'uploads', target: '/srv/uploads', readOnly: false });
  const dataDir = cloneDataDir('/data', 'qa');
  const clone = cloneDesired('demo', prod, 'qa', {}, { dataDir, volatileDir: '/run/v/clones/qa' });
  const target = backupTargetOf(prod);
  assert.ok(target.volumes.length > 0, 'production backs something up');
  for (const v of target.volumes) {
    assert.ok(!v.hostPath.startsWith(`${dataDir}/`) && !dataDir.startsWith(`${v.hostPath}/`), v.hostPath);
  }
  assert.equal(target.database?.container, 'demo-postgres');
  assert.deepEqual(
    target.volumes.map((v) => v.hostPath),
    ['/data/uploads'],
  );
  // The clone's volumes all live in its own directory, and none is marked for a backup.
  for (const v of clone.app.volumes) assert.ok(v.hostPath?.startsWith(`${dataDir}/`), v.hostPath);
  assert.ok(clone.app.volumes.some((v) => v.name === 'uploads'));
  const cloneTarget = backupTargetOf(clone);
  assert.deepEqual(cloneTarget.volumes, []);
  assert.equal(cloneTarget.database?.container, 'demo-qa-postgres');
});
