import { normalizeRef, type ActualState, type SnapshotInfo } from './actual.ts';
import type { DesiredState } from './desired.ts';
import { containerName } from './names.ts';
import { describeAge } from './plan-migrate.ts';
import { shortRef } from './spec-diff.ts';

/**
 * How long after a migrating update a failing health check still judges the update: later, a
 * failure is the running app's (a database hiccup), not the new version's, and never migrates
 * the database back by itself.
 */
export const SETTLE_WINDOW_MS = 30 * 60_000;

/** A migrated version that passed its gate, took traffic, then failed its health check. */
export interface BrokenAfterTraffic {
  /** The routed app services whose container fails its check. */
  services: string[];
  /** The image that migrated the database (the new version). */
  image: string;
  /** The version that ran before it (the PRE_MIGRATE snapshot's app image). */
  previous: string;
  /** The snapshot taken right before the update migrated the database. */
  snapshot: SnapshotInfo;
}

/**
 * The routed app containers of the desired version that fail their health check although they
 * passed their gate (the ingress only routes to a gated container) within the settle window of
 * the update that migrated the database. Undefined otherwise, and when the rollback policy
 * keeps unhealthy versions (`on_failed_health: false`). Pure.
 */
export function brokenAfterTraffic(
  desired: DesiredState,
  actual: ActualState,
  now: Date,
): BrokenAfterTraffic | undefined {
  const policy = desired.policies.rollback as { on_failed_health?: boolean } | undefined;
  if (policy?.on_failed_health === false) return undefined;
  const routed = new Set((desired.app.ingress.http?.routes ?? []).map((r) => r.service));
  const services = desired.app.services
    .filter((svc) => svc.role === 'app' && routed.has(svc.name))
    .filter((svc) =>
      actual.containers.some(
        (c) =>
          c.name === containerName(desired.name, svc.name) &&
          c.state === 'running' &&
          c.health === 'unhealthy' &&
          c.spec?.image === svc.image,
      ),
    )
    .map((svc) => svc.name);
  const current = actual.migration?.current;
  const image = desired.app.commands.migrate?.image;
  if (services.length === 0 || current === undefined || image === undefined) return undefined;
  if (normalizeRef(current.imageRef) !== normalizeRef(image)) return undefined;
  if (now.getTime() - Date.parse(current.at) > SETTLE_WINDOW_MS) return undefined;
  const snapshot = (actual.storage?.snapshots ?? [])
    .filter(
      (s) =>
        s.kind === 'PRE_MIGRATE' &&
        s.appImage !== undefined &&
        normalizeRef(s.appImage) !== normalizeRef(image) &&
        s.createdAt <= current.at,
    )
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0];
  if (snapshot?.appImage === undefined) return undefined;
  return { services, image, previous: snapshot.appImage, snapshot };
}

/** Why the app cannot be migrated back with its reverse migrations; undefined when it can. */
export function noReverseMigration(desired: DesiredState): string | undefined {
  const policy = desired.policies.rollback as { reverse_migrations?: boolean } | undefined;
  if (desired.app.commands.reverse_migrate === undefined) return 'the app defines no reverse_migrate command';
  if (policy?.reverse_migrations === false) return 'policies.rollback.reverse_migrations is false';
  return undefined;
}

/**
 * The desired state with the broken version's image replaced by the previous one (services
 * and commands): planned, it migrates the database back with the newer image's reverse
 * migrations (see planMigration) and starts the previous version.
 */
export function fallbackDesired(desired: DesiredState, broken: BrokenAfterTraffic): DesiredState {
  const out = structuredClone(desired);
  const same = (ref: string): boolean => normalizeRef(ref) === normalizeRef(broken.image);
  for (const svc of out.app.services) if (same(svc.image)) svc.image = broken.previous;
  for (const cmd of Object.values(out.app.commands)) if (same(cmd.image)) cmd.image = broken.previous;
  return out;
}

/** What the status says when the agent migrated back. */
export function migratedBackMessage(broken: BrokenAfterTraffic): string {
  return `${broken.services.join(', ')} (${shortRef(broken.image)}) failed its health check after taking traffic: migrated back to ${shortRef(broken.previous)} with the app's reverse migrations, the data written since is kept; the revision stalls until a new commit`;
}

/** What the status says when the new version is kept. */
export function keptBrokenMessage(broken: BrokenAfterTraffic, why: string): string {
  return `${broken.services.join(', ')} (${shortRef(broken.image)}) failed its health check after taking traffic and cannot be migrated back (${why}): it is kept, users see the service page until it is healthy again; the revision stalls until a new commit`;
}

/** The commit that would go back by restoring the snapshot, and the data it would lose. */
export function restoreSnapshotNotice(broken: BrokenAfterTraffic, now: Date): { code: string; message: string } {
  const { snapshot } = broken;
  const lost = describeAge(now.getTime() - Date.parse(snapshot.createdAt));
  return {
    code: 'RestoreSnapshotPossible',
    message: `to go back to ${shortRef(broken.previous)} anyway, commit that image with policies.rollback.allow_snapshot_restore: ${snapshot.name} (a restore_snapshot commit): the data written since ${snapshot.createdAt} (the last ${lost}) would be lost`,
  };
}
