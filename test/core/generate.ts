import type { ActualState, Inventory } from '../../agent/core/actual.ts';
import { inventoryOf } from '../../agent/core/actual.ts';
import type { DesiredService, DesiredState } from '../../agent/core/desired.ts';
import { LABELS, NEXT_SUFFIX, PREV_SUFFIX } from '../../agent/core/names.ts';
import { plan } from '../../agent/core/plan.ts';
import { desiredState, service } from '../support/desired-builder.ts';
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
  return desiredState({ name: owner, services, volumes, networks });
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
  return { actual: m, lastApplied };
}
