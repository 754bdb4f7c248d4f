import type { ErrorCode } from './error-codes.ts';
import { findImage, normalizeRef, type ActualState, type SnapshotInfo } from './actual.ts';
import type { DesiredState } from './desired.ts';
import { containerName } from './names.ts';
import { desiredNetworks } from './normalize.ts';
import { shortRef } from './spec-diff.ts';
import { RISK, type Action, type SnapshotVolume, type Step, type StepArgs } from './steps.ts';

/** A change the planner will not make, with a stable PascalCase code (the status reason). */
export interface PlanRefusal {
  code: ErrorCode;
  message: string;
}

/** The database part of a plan: what happens to the schema and data before app containers start. */
export interface MigrationPlan {
  steps: Step[];
  /** Ids of app containers stopped while the database changes; their services start again after. */
  stopped: string[];
  /** Services whose containers are left exactly as they are (a refused downgrade). */
  hold: string[];
  refusals: PlanRefusal[];
  /** The step app containers wait for (migrate, reverse migrate or restore). */
  gate?: string;
  /** The snapshot step the database service's own steps wait for. */
  snapshot?: string;
  /** Images the steps need that may have to be pulled (e.g. the newer image of a reverse migration). */
  images: string[];
}

const RUNNING = new Set(['running', 'restarting', 'paused']);

/**
 * The database steps of a plan, from the observed migration status of the desired image:
 * `pending` (or `unknown`: planned conservatively, the executor asks again) → stop the app's
 * containers, PRE_MIGRATE snapshot when there is data, migrate; `db-newer` (a downgrade) →
 * reverse migrations with the newer image when the app has them and a recorded target state,
 * else restore the snapshot the repo names, else refuse. Pure.
 */
export function planMigration(desired: DesiredState, actual: ActualState, now: Date): MigrationPlan {
  const out: MigrationPlan = { steps: [], stopped: [], hold: [], refusals: [], images: [] };
  const migrate = desired.app.commands.migrate;
  const obs = actual.migration;
  if (migrate === undefined || desired.app.database === undefined || obs === undefined) return out;
  if (obs.status === 'up-to-date') return out;

  const appServices = desired.app.services.filter((s) => s.role === 'app').map((s) => s.name);
  const running = actual.containers.filter(
    (c) =>
      c.service !== undefined &&
      appServices.includes(c.service) &&
      RUNNING.has(c.state) &&
      !c.name.endsWith('-next') &&
      !c.name.endsWith('-prev'),
  );
  const add = <A extends Action>(action: A, key: string, reason: string, args: StepArgs[A]): string => {
    const id = `${action}:${key}`;
    out.steps.push({ id, action, reason, after: [], risk: RISK[action], args } as Step);
    return id;
  };
  const stopApp = (why: string): void => {
    for (const c of running) {
      add('container.stop', c.service ?? c.name, why, { name: c.name, id: c.id, service: c.service ?? '' });
      out.stopped.push(c.id);
    }
  };
  const volumes = snapshotVolumes(desired);
  const snapshot = (why: string): string | undefined => {
    if (actual.storage === undefined || volumes.length === 0) return undefined;
    const id = add('snapshot.create', 'PRE_MIGRATE', why, {
      kind: 'PRE_MIGRATE',
      root: actual.storage.root,
      volumes,
    });
    out.snapshot = id;
    return id;
  };
  const refuse = (code: ErrorCode, message: string): MigrationPlan => {
    return { steps: [], stopped: [], hold: appServices, refusals: [{ code, message }], images: [] };
  };

  if (obs.status === 'pending' || obs.status === 'unknown') {
    const what =
      obs.status === 'pending'
        ? `migrations pending${obs.detail.length > 0 ? `: ${obs.detail.join(', ')}` : ''} (asked ${shortRef(obs.image)})`
        : `migration status unknown (${obs.note}); ${obs.readOnly === true ? 'asked at apply time' : 'asked again before migrating'}`;
    if (!obs.dataExists) {
      out.gate = add('app.migrate', migrate.service, `${what}; first install, no data yet`, {
        service: migrate.service,
        image: migrate.image,
        asked: obs.status === 'pending',
        pending: obs.status === 'pending' ? [...obs.detail] : [],
      });
      setRisk(out, out.gate, 'disruptive');
      return out;
    }
    if (actual.storage === undefined || volumes.length === 0) {
      return refuse(
        'MigrationNeedsSnapshot',
        `${what}, but the database volume is not a host directory under the data path: no snapshot can be taken`,
      );
    }
    stopApp(`the app is stopped while the database is migrated`);
    const snap = snapshot(`the database and files are kept as they are before migrating`);
    out.gate = add('app.migrate', migrate.service, what, {
      service: migrate.service,
      image: migrate.image,
      asked: obs.status === 'pending',
      pending: obs.status === 'pending' ? [...obs.detail] : [],
      ...(snap === undefined ? {} : { snapshot: snap }),
    });
    return out;
  }

  // db-newer: the database was migrated by a newer version than the desired one.
  const rollback = desired.policies.rollback as
    { reverse_migrations?: boolean; allow_snapshot_restore?: string | null } | undefined;
  const reverse = desired.app.commands.reverse_migrate;
  const newer = obs.current?.imageRef ?? runningImage(actual, desired, migrate.service);
  const ahead = obs.detail.length > 0 ? ` (the database has ${obs.detail.join(', ')})` : '';
  const why: string[] = [];
  if (reverse === undefined) why.push('the app defines no reverse_migrate command');
  else if (rollback?.reverse_migrations === false) why.push('policies.rollback.reverse_migrations is false');
  else if (obs.targetState === undefined)
    why.push(`no migration state of ${shortRef(obs.image)} is recorded or printed`);
  else if (newer === undefined) why.push('the image the database was migrated by is not known');
  if (why.length === 0 && reverse !== undefined && obs.targetState !== undefined && newer !== undefined) {
    if (findImage(actual.images, newer) === undefined) out.images.push(newer);
    stopApp('the app is stopped while the database is migrated back');
    const snap = snapshot('the database and files are kept as they are before migrating back');
    if (snap === undefined) {
      return refuse(
        'MigrationNeedsSnapshot',
        `downgrade to ${shortRef(obs.image)}${ahead}: no snapshot can be taken first`,
      );
    }
    out.gate = add(
      'app.reverse-migrate',
      reverse.service,
      `downgrade: the database was migrated by ${shortRef(newer)}${ahead}; its reverse migrations go back to the state of ${shortRef(obs.image)}`,
      { service: reverse.service, image: newer, targetImage: obs.image, targetState: obs.targetState, snapshot: snap },
    );
    return out;
  }
  const named = rollback?.allow_snapshot_restore ?? null;
  if (named !== null && actual.storage !== undefined) {
    const found = pickSnapshot(actual.storage.snapshots, named, obs.image);
    if (found === undefined) {
      return refuse(
        'SnapshotNotFound',
        `downgrade to ${shortRef(obs.image)}${ahead}: ${why.join('; ')}, and policies.rollback.allow_snapshot_restore names ${named}, which is not a snapshot on this machine${named.includes('-') ? '' : ` taken while ${shortRef(obs.image)} ran`}`,
      );
    }
    if (actual.storage.restored.includes(found.name)) {
      return refuse(
        'SnapshotAlreadyRestored',
        `downgrade to ${shortRef(obs.image)}${ahead}: snapshot ${found.name} was restored once already; name a newer one`,
      );
    }
    stopApp('the app is stopped while its data is restored');
    const safety = snapshot('the current data is kept before it is replaced by an older snapshot');
    if (safety === undefined)
      return refuse('MigrationNeedsSnapshot', `downgrade to ${shortRef(obs.image)}: no snapshot possible`);
    const lost = describeAge(now.getTime() - Date.parse(found.createdAt));
    out.gate = add(
      'snapshot.restore',
      found.name,
      `downgrade to ${shortRef(obs.image)} without reverse migrations (${why.join('; ')}): restoring ${found.name} loses the data written since ${found.createdAt} (${lost})`,
      { name: found.name, createdAt: found.createdAt, root: actual.storage.root, volumes, safety },
    );
    return out;
  }
  return refuse(
    'DowngradeNeedsReverseMigration',
    `downgrade to ${shortRef(obs.image)}${ahead}: ${why.join('; ')}. The current version keeps running. To go back anyway, name a snapshot in policies.rollback.allow_snapshot_restore (data written since it is lost).`,
  );
}

/**
 * True when the database service or the migrate command's service cannot be set up (a name
 * conflict on the container, a network or a volume; `blocked` holds the planner's blocked
 * `network:` and `volume:` keys): then no database step is planned.
 */
export function migrationBlocked(desired: DesiredState, actual: ActualState, blocked: ReadonlySet<string>): boolean {
  const db = desired.app.database?.service;
  const nets = new Map(desiredNetworks(desired).map((n) => [n.network, n.name]));
  for (const name of [db, desired.app.commands.migrate?.service]) {
    const svc = desired.app.services.find((s) => s.name === name);
    if (svc === undefined) continue;
    if (name === db && actual.foreign.containers.includes(containerName(desired.name, svc.name))) return true;
    const netBlocked = (n: string): boolean =>
      blocked.has(`network:${n}`) || actual.foreign.networks.includes(nets.get(n) ?? n);
    if (svc.networks.some(netBlocked)) return true;
    if (svc.mounts.some((m) => blocked.has(`volume:${m.volume}`))) return true;
  }
  return false;
}

/** The data and database volumes that snapshots hold (host directories under the data path). */
export function snapshotVolumes(desired: DesiredState): SnapshotVolume[] {
  return desired.app.volumes
    .filter((v) => (v.kind === 'data' || v.kind === 'database') && v.hostPath !== undefined)
    .map((v) => ({ volume: v.name, hostPath: v.hostPath ?? '' }));
}

/**
 * The snapshot `name` designates: a snapshot of that exact name, or, for a kind
 * (`PRE_MIGRATE`, `BACKUP`), the newest of that kind taken while `image` had migrated the database.
 */
export function pickSnapshot(
  snapshots: readonly SnapshotInfo[],
  name: string,
  image: string,
): SnapshotInfo | undefined {
  const exact = snapshots.find((s) => s.name === name);
  if (exact !== undefined) return exact;
  const wanted = normalizeRef(image);
  return snapshots
    .filter((s) => s.kind === name && s.appImage !== undefined && normalizeRef(s.appImage) === wanted)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))[0];
}

/** "3 h 12 min", "2 days 4 h", "40 s": how long ago, for people. */
export function describeAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} days ${h % 24} h`;
}

function runningImage(actual: ActualState, desired: DesiredState, service: string): string | undefined {
  const c = actual.containers.find((x) => x.name === containerName(desired.name, service));
  return c?.spec?.image ?? c?.imageRef;
}

function setRisk(plan: MigrationPlan, id: string, risk: Step['risk']): void {
  const s = plan.steps.find((x) => x.id === id);
  if (s !== undefined) s.risk = risk;
}
