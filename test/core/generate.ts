import type { ActualState, Inventory } from '../../agent/core/actual.ts';
import { inventoryOf } from '../../agent/core/actual.ts';
import type { Policies } from '../../agent/core/config-types.gen.ts';
import type { CommandName, DesiredCommand, DesiredService, DesiredState } from '../../agent/core/desired.ts';
import { snapshotVolumes } from '../../agent/core/plan-migrate.ts';
import { LABELS, NEXT_SUFFIX, PREV_SUFFIX } from '../../agent/core/names.ts';
import { plan } from '../../agent/core/plan.ts';
import { desiredState, service } from '../../devenv/desired-builder.ts';
import { applyAll, emptyMachine } from './fake-machine.ts';

/** A small seeded PRNG (mulberry32): the same seed gives the same cases. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  subset<T>(items: readonly T[], p = 0.5): T[] {
    return items.filter(() => this.chance(p));
  }
}

export const SPEC_KEY = 'property-test-key';
const IMAGES = [
  '127.0.0.1:5000/demo@sha256:' + 'a'.repeat(64),
  '127.0.0.1:5000/demo@sha256:' + 'b'.repeat(64),
  '127.0.0.1:5000/postgres:15',
  'redis',
];
const SERVICE_NAMES = ['db', 'cache', 'web', 'worker', 'proxy', 'mail'];

/** A random desired state for `owner`. */
export function randomDesired(r: Random, owner: string): DesiredState {
  const networks = ['default', 'backend', 'mail']
    .slice(0, 1 + r.int(3))
    .map((name) => ({ name, internal: r.chance(0.3) }));
  const volumes = ['data', 'media', 'cache']
    .slice(0, r.int(4))
    .map((name) =>
      r.chance(0.5)
        ? { name, kind: 'named' as const, backup: false }
        : { name, kind: 'data' as const, hostPath: `/srv/${owner}/${name}`, backup: true },
    );
  const names = r.subset(SERVICE_NAMES, 0.6);
  if (names.length === 0) names.push('web');
  const services: DesiredService[] = [];
  for (const name of names) {
    const env: Record<string, string | { secret: string }> = { MODE: r.pick(['a', 'b']) };
    if (r.chance(0.5)) env['PASSWORD'] = { secret: r.pick(['s3cret-one', 's3cret-two']) };
    services.push(
      service({
        name,
        image: r.pick(IMAGES),
        env,
        networks: r.subset(networks, 0.6).map((n) => n.name),
        mounts: r
          .subset(volumes, 0.4)
          .map((v) => ({ volume: v.name, target: `/mnt/${v.name}`, readOnly: r.chance(0.3) })),
        dependsOn: r.subset(
          services.map((s) => s.name),
          0.4,
        ),
        restart: r.pick(['always', 'unless-stopped'] as const),
        ...(r.chance(0.3)
          ? {
              secretFiles: [
                { target: '/run/secrets/x', value: { value: r.pick(['k1', 'k2']), secret: true }, owner: '0:0' },
              ],
            }
          : {}),
      }),
    );
  }
  for (const s of services) if (s.networks.length === 0) s.networks.push(networks[0]?.name ?? 'default');
  const state = desiredState({ name: owner, services, volumes, networks });
  if (services[0]?.name === 'db' && services.length > 1 && r.chance(0.7)) addDatabase(r, state);
  return state;
}

/**
 * Makes the first service (`db`) the database with a data directory, the others app services,
 * and gives the app migrate commands and a rollback policy. Roles are also labels (`fake.role`)
 * so the fake machine can check that no app container runs while the database changes.
 */
function addDatabase(r: Random, d: DesiredState): void {
  const [db, ...apps] = d.app.services;
  if (db === undefined || apps.length === 0) return;
  db.role = 'database';
  db.labels = { ...db.labels, 'fake.role': 'database' };
  d.app.volumes.push({ name: 'pgdata', kind: 'database', hostPath: `/srv/${d.name}/pgdata`, backup: false });
  db.mounts.push({ volume: 'pgdata', target: '/var/lib/postgresql/data', readOnly: false });
  for (const a of apps) {
    a.role = 'app';
    a.labels = { ...a.labels, 'fake.role': 'app' };
  }
  const m = r.pick(apps);
  const cmd = (name: CommandName): DesiredCommand => ({
    name,
    service: m.name,
    image: m.image,
    command: [name],
    environment: {},
    timeoutSeconds: 60,
  });
  d.app.database = { service: db.name, name: 'app', user: 'app', password: { value: 'pw-db', secret: true } };
  d.app.commands = {
    migrate: cmd('migrate'),
    migration_status: { ...cmd('migration_status'), pendingExitCode: 10 },
    ...(r.chance(0.5) ? { reverse_migrate: cmd('reverse_migrate') } : {}),
  };
  d.policies = {
    rollback: {
      on_failed_health: true,
      health_timeout_seconds: 60,
      reverse_migrations: r.chance(0.8),
      allow_snapshot_restore: r.chance(0.5) ? 'PRE_MIGRATE' : null,
    },
  } as unknown as Policies;
}

/** What observe might report about migrations and snapshots of `next` on a machine. */
function randomData(r: Random, m: ActualState, next: DesiredState): void {
  const migrate = next.app.commands.migrate;
  if (migrate !== undefined) {
    m.migration = {
      service: migrate.service,
      image: migrate.image,
      status: r.pick(['pending', 'up-to-date', 'db-newer', 'unknown'] as const),
      detail: r.chance(0.5) ? ['002_next'] : [],
      note: 'fake',
      dataExists: r.chance(0.7),
      ...(r.chance(0.6) ? { targetState: '001_first' } : {}),
      ...(r.chance(0.7)
        ? {
            current: {
              imageRef: r.pick(IMAGES),
              imageId: 'sha256:current',
              revision: 'r0',
              at: '1970-01-01T00:00:00Z',
            },
          }
        : {}),
    };
  }
  if (snapshotVolumes(next).length > 0 && r.chance(0.9)) {
    m.storage = {
      driver: 'btrfs',
      root: `/srv/${next.name}`,
      snapshots: r.chance(0.7)
        ? [
            {
              name: 'PRE_MIGRATE-19700101T000000Z',
              kind: 'PRE_MIGRATE',
              createdAt: '1970-01-01T00:00:00.000Z',
              volumes: ['pgdata'],
              readOnly: true,
              ...(r.chance(0.7) && migrate !== undefined ? { appImage: migrate.image } : {}),
            },
          ]
        : [],
      restored: [],
    };
  }
}

/** A machine that ran `previous` (applied on the fake), then was changed by hand and by others. */
export function randomActual(
  r: Random,
  previous: DesiredState,
  next: DesiredState,
): { actual: ActualState; lastApplied: Inventory } {
  const owner = previous.name;
  const p = plan(previous, emptyMachine(owner), { now: new Date(0), specKey: SPEC_KEY });
  let m = applyAll(emptyMachine(owner), p.steps);
  const lastApplied = inventoryOf(m, previous.revision);
  m = structuredClone(m);
  for (const c of [...m.containers]) {
    const roll = r.int(8);
    if (roll === 0) m.containers = m.containers.filter((x) => x !== c);
    else if (roll === 1) c.state = 'exited';
    else if (roll === 2) c.name = `${c.name}-renamed`;
    else if (roll === 3 && c.spec !== undefined) c.spec = { ...c.spec, restart: 'no' };
    else if (roll === 4)
      m.containers.push({
        ...structuredClone(c),
        id: `${c.id}-prev`,
        name: `${c.name}${r.chance(0.5) ? PREV_SUFFIX : NEXT_SUFFIX}`,
        state: 'exited',
      });
  }
  if (r.chance(0.3)) m.images = m.images.slice(1);
  if (r.chance(0.3)) {
    m.containers.push({
      id: 'stray-1',
      name: `${owner}-stray`,
      service: 'stray',
      imageRef: 'redis',
      imageId: 'sha256:x',
      dependsOn: [],
      networks: [],
      state: 'running',
      health: 'none',
      labels: { [LABELS.owner]: owner, [LABELS.service]: 'stray' },
    });
  }
  // Objects of others, some with names the next state wants.
  const wanted = [
    ...next.app.services.map((s) => `${owner}-${s.name}`),
    ...next.app.networks.map((n) => `${owner}-${n.name}${n.internal ? '.internal' : ''}`),
  ];
  m.foreign.containers.push('someone-else', ...r.subset(wanted, 0.1));
  m.foreign.networks.push('bridge', ...r.subset(wanted, 0.1));
  m.foreign.volumes.push(`${owner}-data-copy`);
  randomData(r, m, next);
  return { actual: m, lastApplied };
}
