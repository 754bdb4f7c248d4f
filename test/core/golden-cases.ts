import { inventoryOf, type ActualState, type Inventory } from '../../agent/core/actual.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import { LABELS } from '../../agent/core/names.ts';
import { plan } from '../../agent/core/plan.ts';
import { demoDesired, service } from '../support/desired-builder.ts';
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
  change: { webImage?: string; password?: string; webEnv?: Record<string, string>; worker?: boolean } = {},
): DesiredState {
  return demoDesired({
    owner: 'acme',
    revision: change.webImage === V2 ? 'b'.repeat(40) : 'a'.repeat(40),
    postgresImage: PG,
    webImage: change.webImage ?? V1,
    password: change.password ?? 'correct horse battery staple',
    dataDir: '/srv/acme/postgresql',
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
    'manual-drift': { desired: demo(), actual: drift, inventory },
    'service-removed': {
      desired: demo(),
      actual: pruned,
      inventory: inventoryOf(withWorker, 'a'.repeat(40)),
    },
    'name-conflicts': { desired: demo(), actual: conflict },
  };
}
