import {
  inventoryOf,
  type ActualState,
  type Inventory,
  type MigrationObservation,
  type MigrationRecord,
  type SnapshotInfo,
} from '../../agent/core/actual.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import { LABELS } from '../../agent/core/names.ts';
import { plan } from '../../agent/core/plan.ts';
import { demoDesired, service, withDemoCommands } from '../../devenv/desired-builder.ts';
import { applyAll, emptyMachine } from './fake-machine.ts';

/** Inputs of one golden plan case (written to test/fixtures/plans/<name>/ with UPDATE_GOLDEN=1). */
export interface GoldenCase {
  desired: DesiredState;
  actual: ActualState;
  inventory?: Inventory;
}

export const GOLDEN_KEY = 'golden-spec-key';
export const GOLDEN_NOW = new Date('2026-01-01T00:00:00Z');

const PG = `127.0.0.1:5000/postgres@sha256:${'1'.repeat(64)}`;
const V1 = `127.0.0.1:5000/demo@sha256:${'a1'.repeat(32)}`;
const V2 = `127.0.0.1:5000/demo@sha256:${'b2'.repeat(32)}`;

function demo(
  change: {
    webImage?: string;
    password?: string;
    webEnv?: Record<string, string>;
    worker?: boolean;
    /** false: as an agent before the backup's dump directory made it (the database without that mount). */
    dumpDir?: boolean;
  } = {},
): DesiredState {
  return demoDesired({
    owner: 'acme',
    revision: change.webImage === V2 ? 'b'.repeat(40) : 'a'.repeat(40),
    postgresImage: PG,
    webImage: change.webImage ?? V1,
    password: change.password ?? 'correct horse battery staple',
    dataDir: '/srv/acme/postgresql',
    ...(change.dumpDir === false ? {} : { dataPath: '/srv/acme' }),
    webPort: 8080,
    webEnv: { DEMO_BANNER: 'hello', ...change.webEnv },
    ...(change.worker === true
      ? {
          extra: [
            service({
              name: 'worker',
              image: V1,
              command: ['worker'],
              dependsOn: ['postgres', 'web'],
              networks: ['backend'],
            }),
          ],
        }
      : {}),
  });
}

/** The demo with the app's migration commands (as example-config-repo/apps/demo/app.yml has them). */
function withMigrations(d: DesiredState, options: { reverse?: boolean; restore?: string } = {}): DesiredState {
  return withDemoCommands(d, { ...options, timeoutSeconds: 600, snapshots: false });
}

/** env.yml `recover_from_backup: true`, as on a replacement appliance. */
function recovering(d: DesiredState): DesiredState {
  d.site = { ...d.site, recover_from_backup: true };
  return d;
}

function record(image: string, state: string): MigrationRecord {
  return {
    imageRef: image,
    imageId: `sha256:${image.slice(-8)}`,
    revision: 'a'.repeat(40),
    state,
    at: '2025-12-31T00:00:00.000Z',
  };
}

function withData(
  m: ActualState,
  migration: Partial<MigrationObservation> & Pick<MigrationObservation, 'status' | 'image'>,
  snapshots: SnapshotInfo[] = [],
): ActualState {
  const out = structuredClone(m);
  out.migration = { service: 'web', detail: [], note: 'asked the image', dataExists: true, ...migration };
  out.storage = { driver: 'btrfs', root: '/srv/acme', snapshots, restored: [] };
  return out;
}

/** The machine after `desired` was applied (on the fake). */
function appliedMachine(desired: DesiredState): ActualState {
  const p = plan(desired, emptyMachine(desired.name), { now: GOLDEN_NOW, specKey: GOLDEN_KEY });
  return applyAll(emptyMachine(desired.name), p.steps);
}

function byService(m: ActualState, svc: string): ActualState['containers'][number] {
  const c = m.containers.find((x) => x.service === svc);
  if (c === undefined) throw new Error(`no ${svc}`);
  return c;
}

export function goldenCases(): Record<string, GoldenCase> {
  const base = appliedMachine(demo());
  const inventory = inventoryOf(base, 'a'.repeat(40));
  const atV2 = appliedMachine(demo({ webImage: V2 }));
  const inventoryV2 = inventoryOf(atV2, 'b'.repeat(40));

  const drift = structuredClone(base);
  byService(drift, 'web').state = 'exited';
  byService(drift, 'web').exitCode = 137;
  byService(drift, 'postgres').name = 'acme-postgres-by-hand';

  const withWorker = appliedMachine(demo({ worker: true }));
  const pruned = structuredClone(withWorker);
  pruned.volumes.push({ name: 'acme-old-uploads', volume: 'uploads', labels: { [LABELS.owner]: 'acme' } });
  pruned.containers.push({
    ...structuredClone(byService(withWorker, 'worker')),
    id: 'c-not-inventoried',
    name: 'acme-debug',
    service: 'debug',
  });
  pruned.foreign.containers.push('acme-web-old', 'someone-elses-db');

  const conflict = emptyMachine('acme');
  conflict.foreign.networks.push('acme-backend.internal');
  conflict.foreign.containers.push('acme-web');

  return {
    'first-apply': { desired: demo(), actual: emptyMachine('acme') },
    'no-changes': { desired: demo(), actual: base, inventory },
    'env-and-secret-change': {
      desired: demo({ webEnv: { DEMO_BANNER: 'maintenance tonight' }, password: 'a new password' }),
      actual: base,
      inventory,
    },
    'image-bump': { desired: demo({ webImage: V2 }), actual: base, inventory },
    // An upgrade of the agent: the database gets the dump directory's mount. Its data stays on
    // its own volume: one replace of the database container, nothing else.
    'database-gets-the-dump-directory': {
      desired: withMigrations(demo()),
      actual: withData(appliedMachine(demo({ dumpDir: false })), { status: 'up-to-date', image: V1 }),
      inventory: inventoryOf(appliedMachine(demo({ dumpDir: false })), 'a'.repeat(40)),
    },
    'manual-drift': { desired: demo(), actual: drift, inventory },
    'service-removed': {
      desired: demo(),
      actual: pruned,
      inventory: inventoryOf(withWorker, 'a'.repeat(40)),
    },
    'name-conflicts': { desired: demo(), actual: conflict },
    'first-install-migrates': {
      desired: withMigrations(demo()),
      actual: withData(emptyMachine('acme'), {
        status: 'unknown',
        image: V1,
        note: 'the database (postgres) is not running',
        dataExists: false,
      }),
    },
    'fresh-appliance-recovers-from-backup': {
      desired: recovering(withMigrations(demo())),
      actual: withData(emptyMachine('acme'), {
        status: 'unknown',
        image: V1,
        note: 'the database (postgres) is not running',
        dataExists: false,
      }),
    },
    'update-migrates-after-a-snapshot': {
      desired: withMigrations(demo({ webImage: V2 })),
      actual: withData(base, {
        status: 'pending',
        image: V2,
        detail: ['002_note'],
        current: record(V1, '001_items\n'),
      }),
      inventory,
    },
    'downgrade-reverse-migrates': {
      desired: withMigrations(demo()),
      actual: withData(atV2, {
        status: 'db-newer',
        image: V1,
        detail: ['002_note'],
        targetState: '001_items\n',
        current: record(V2, '001_items\n002_note\n'),
      }),
      inventory: inventoryV2,
    },
    'downgrade-without-reverse-is-refused': {
      desired: withMigrations(demo(), { reverse: false }),
      actual: withData(atV2, { status: 'db-newer', image: V1, detail: ['002_note'], current: record(V2, '') }),
      inventory: inventoryV2,
    },
    'downgrade-restores-the-named-snapshot': {
      desired: withMigrations(demo(), { reverse: false, restore: 'PRE_MIGRATE' }),
      actual: withData(atV2, { status: 'db-newer', image: V1, detail: ['002_note'], current: record(V2, '') }, [
        {
          name: 'PRE_MIGRATE-20251231T210000Z',
          kind: 'PRE_MIGRATE',
          createdAt: '2025-12-31T21:00:00.000Z',
          volumes: ['pgdata'],
          readOnly: true,
          revision: 'a'.repeat(40),
          appImage: V1,
        },
      ]),
      inventory: inventoryV2,
    },
  };
}
