import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActualContainer, ActualState } from '../../agent/core/actual.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import {
  brokenAfterTraffic,
  fallbackDesired,
  restoreSnapshotNotice,
  SETTLE_WINDOW_MS,
} from '../../agent/core/failure-after-traffic.ts';
import { demoDesired, withDemoCommands } from '../../devenv/desired-builder.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';
import { emptyMachine } from './fake-machine.ts';

const V1 = 'registry.test/demo@sha256:' + '1'.repeat(64);
const V2 = 'registry.test/demo@sha256:' + '2'.repeat(64);
const updatedAt = '2026-01-01T10:00:00.000Z';

function desired(): DesiredState {
  const d = demoDesired({
    owner: 'shop',
    postgresImage: 'postgres:15',
    webImage: V2,
    password: 'pw',
    dataDir: '/d/pg',
  });
  return withIngress(withDemoCommands(d), { image: 'caddy:2.6', dataPath: '/d', ports: { http: 80, https: 443 } });
}

function actual(health: ActualContainer['health'], image = V2): ActualState {
  const m = emptyMachine('shop');
  const spec = { image } as unknown as NonNullable<ActualContainer['spec']>;
  m.containers.push({
    id: 'w',
    name: 'shop-web',
    service: 'web',
    imageRef: image,
    imageId: 'sha256:w',
    spec,
    dependsOn: [],
    networks: [],
    state: 'running',
    health,
    labels: {},
  });
  m.migration = {
    service: 'web',
    image: V2,
    status: 'up-to-date',
    detail: [],
    note: '',
    dataExists: true,
    current: { imageRef: V2, imageId: 'sha256:2', revision: 'r2', at: updatedAt },
  };
  m.storage = {
    root: '/d',
    driver: 'btrfs',
    snapshots: [
      {
        name: 'PRE_MIGRATE-1',
        kind: 'PRE_MIGRATE',
        createdAt: '2026-01-01T09:59:00.000Z',
        volumes: ['pgdata'],
        readOnly: true,
        appImage: V1,
      },
    ],
    restored: [],
  } as unknown as NonNullable<ActualState['storage']>;
  return m;
}

const at = (ms: number): Date => new Date(Date.parse(updatedAt) + ms);

test('a routed version that migrated and then fails its check is judged within the settle window only', () => {
  const found = brokenAfterTraffic(desired(), actual('unhealthy'), at(60_000));
  assert.deepEqual(found && { services: found.services, previous: found.previous }, {
    services: ['web'],
    previous: V1,
  });
  assert.equal(brokenAfterTraffic(desired(), actual('healthy'), at(60_000)), undefined, 'healthy');
  assert.equal(brokenAfterTraffic(desired(), actual('unhealthy'), at(SETTLE_WINDOW_MS + 1)), undefined, 'too late');
  assert.equal(
    brokenAfterTraffic(desired(), actual('unhealthy', V1), at(60_000)),
    undefined,
    'not the desired version',
  );
  const keep = desired();
  (keep.policies.rollback as { on_failed_health: boolean }).on_failed_health = false;
  assert.equal(brokenAfterTraffic(keep, actual('unhealthy'), at(60_000)), undefined, 'the policy keeps it');
});

test('the fallback runs the previous image everywhere the new one was, and the notice states the loss', () => {
  const found = brokenAfterTraffic(desired(), actual('unhealthy'), at(60_000));
  assert.ok(found);
  const back = fallbackDesired(desired(), found);
  assert.equal(back.app.services.find((s) => s.name === 'web')?.image, V1);
  assert.ok(Object.values(back.app.commands).every((c) => c.image === V1));
  assert.equal(desired().app.services.find((s) => s.name === 'web')?.image, V2, 'the desired state is not changed');
  const notice = restoreSnapshotNotice(found, at(60_000));
  assert.match(
    notice.message,
    /allow_snapshot_restore: PRE_MIGRATE-1 .* written since 2026-01-01T09:59:00.000Z \(the last 2 min\) would be lost/,
  );
});
