import type { JsonObject } from './json.ts';
import type { ContainerSpec } from './normalize.ts';

/** Docker's container states; "missing" is a container that is not in the list. */
export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** Docker's health states; `none` when the container has no health check. */
export type HealthState = 'starting' | 'healthy' | 'unhealthy' | 'none';

/** A container that carries the owner label. */
export interface ActualContainer {
  id: string;
  name: string;
  /** `appliance.service` label; undefined when missing. */
  service?: string;
  /** `appliance.revision`: the revision that created it. */
  revision?: string;
  /** The reference it was created from (Config.Image). */
  imageRef: string;
  /** The image id it runs. */
  imageId: string;
  /** `appliance.spec-hash` label. */
  specHash?: string;
  /**
   * The spec from the `appliance.spec` label, with what can be changed on a live container
   * (restart policy, connected networks) taken from the engine instead: a change made by
   * hand then shows as a difference. Undefined when the label is missing or unreadable.
   */
  spec?: ContainerSpec;
  /** `appliance.depends-on`. */
  dependsOn: string[];
  /** Docker networks it is connected to. */
  networks: string[];
  /** Its address on each network it is connected to, while running (the ingress dials these). */
  addresses?: Record<string, string>;
  state: ContainerState;
  health: HealthState;
  /** Exit code of the last run when not running. */
  exitCode?: number;
  labels: Record<string, string>;
}

/** A network that carries the owner label. */
export interface ActualNetwork {
  id: string;
  name: string;
  /** `appliance.network`: its name in the app. */
  network?: string;
  internal: boolean;
  labels: Record<string, string>;
}

/** A Docker named volume that carries the owner label. */
export interface ActualVolume {
  name: string;
  /** `appliance.volume`: its name in the app. */
  volume?: string;
  labels: Record<string, string>;
}

/** An image on the machine (images are shared, so all of them are listed). */
export interface ActualImage {
  id: string;
  /** `repo:tag` references. */
  tags: string[];
  /** `repo@sha256:…` references. */
  digests: string[];
}

/**
 * What the agent owns on the machine, as observed, plus what it must not touch: the names of
 * objects that exist but belong to someone else (`foreign`), so a name conflict is reported
 * instead of fought over.
 */
export interface ActualState {
  owner: string;
  containers: ActualContainer[];
  networks: ActualNetwork[];
  volumes: ActualVolume[];
  /** Host directories (of those asked about) that exist. */
  hostPaths: string[];
  images: ActualImage[];
  foreign: { containers: string[]; networks: string[]; volumes: string[] };
  /** The app's database migrations; absent when the app has no migrate command. */
  migration?: MigrationObservation;
  /** Snapshots of the data volumes; absent when the app has no data or database volume. */
  storage?: StorageObservation;
  /** The configuration the ingress has loaded (its admin API); absent when none answers. */
  ingress?: { config: JsonObject };
}

/**
 * Whether the desired image's migrations are applied to the database: `db-newer` means the
 * database was migrated by a newer version (a downgrade), `unknown` that nobody could ask
 * (database down, image not pulled) — the planner then plans conservatively.
 */
export type MigrationStatus = 'pending' | 'up-to-date' | 'db-newer' | 'unknown';

/** The image the database was migrated by at a successful update, and that image's migration state. */
export interface MigrationRecord {
  imageRef: string;
  imageId: string;
  revision: string;
  /** What the image's migration_state command printed; absent when the app has none. */
  state?: string;
  /** ISO time of the update. */
  at: string;
}

/** What observe learnt about the migrations of the desired image. */
export interface MigrationObservation {
  /** Service whose image migrates (the migrate command's). */
  service: string;
  /** The desired image of that service: the one asked. */
  image: string;
  status: MigrationStatus;
  /** What the status command printed (secret-free, bounded): e.g. the pending migrations. */
  detail: string[];
  /** How the status was learnt or why it is unknown, for people. */
  note: string;
  /** Observed read-only (`appliance plan`): an unknown status is only asked at apply time. */
  readOnly?: boolean;
  /** The database volume holds data already (else this is a first install). */
  dataExists: boolean;
  /** The desired image's migration state (recorded, or printed by its migration_state). */
  targetState?: string;
  /** The record of the last successful update (the image the database is migrated to). */
  current?: MigrationRecord;
}

export type SnapshotKind = 'PRE_MIGRATE' | 'PRE_RESTORE' | 'CLONE' | 'BACKUP';

/** One snapshot of the data volumes (database and files together). */
export interface SnapshotInfo {
  name: string;
  kind: SnapshotKind;
  /** ISO time it was taken. */
  createdAt: string;
  /** Names of the volumes it holds. */
  volumes: string[];
  readOnly: boolean;
  /** Revision and migrated-by image at the time it was taken, when known. */
  revision?: string;
  appImage?: string;
}

/** The snapshot layer of the data path. */
export interface StorageObservation {
  /** `btrfs`: subvolumes and atomic snapshots; `copy`: plain directories copied while stopped. */
  driver: 'btrfs' | 'copy';
  /** The data path: volumes and `.snapshots/` live under it. */
  root: string;
  snapshots: SnapshotInfo[];
  /** Snapshots restored for a downgrade before: each is restored at most once. */
  restored: string[];
}

/** The owned objects recorded after the last successful apply: the only things pruned. */
export interface Inventory {
  owner: string;
  revision: string;
  containers: { name: string; id: string; service?: string }[];
  networks: { name: string; id: string }[];
  volumes: { name: string }[];
}

/** The inventory of an observed state. */
export function inventoryOf(actual: ActualState, revision: string): Inventory {
  const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    owner: actual.owner,
    revision,
    containers: actual.containers
      .map((c) => ({ name: c.name, id: c.id, ...(c.service === undefined ? {} : { service: c.service }) }))
      .sort(byName),
    networks: actual.networks.map((n) => ({ name: n.name, id: n.id })).sort(byName),
    volumes: actual.volumes.map((v) => ({ name: v.name })).sort(byName),
  };
}

/** Merges two inventories (after a failed apply, nothing recorded before may be forgotten). */
export function mergeInventories(a: Inventory, b: Inventory): Inventory {
  const union = <T extends { name: string }>(x: T[], y: T[]): T[] => {
    const m = new Map<string, T>();
    for (const item of [...x, ...y]) m.set(item.name + '\u0000' + JSON.stringify(item), item);
    return [...m.values()].sort((p, q) => (p.name < q.name ? -1 : p.name > q.name ? 1 : 0));
  };
  return {
    owner: b.owner,
    revision: b.revision,
    containers: union(a.containers, b.containers),
    networks: union(a.networks, b.networks),
    volumes: union(a.volumes, b.volumes),
  };
}

/** The image a reference names on this machine, if it is there. */
export function findImage(images: readonly ActualImage[], ref: string): ActualImage | undefined {
  const wanted = normalizeRef(ref);
  return images.find((img) => img.id === ref || img.tags.includes(wanted) || img.digests.includes(wanted));
}

/**
 * A reference as Docker lists it: Docker Hub's prefixes dropped, `:latest` added to a bare
 * name, and the tag dropped from `repo:tag@digest` (the digest is what is pulled).
 */
export function normalizeRef(ref: string): string {
  let r = ref;
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/']) {
    if (r.startsWith(prefix)) {
      r = r.slice(prefix.length);
      break;
    }
  }
  const at = r.indexOf('@');
  if (at >= 0) {
    const name = r.slice(0, at);
    const colon = name.lastIndexOf(':');
    return (colon > name.lastIndexOf('/') ? name.slice(0, colon) : name) + r.slice(at);
  }
  return r.lastIndexOf(':') > r.lastIndexOf('/') ? r : `${r}:latest`;
}

/** A machine with nothing on it for `owner` (a first install, or a prediction without a report). */
export function emptyActual(owner: string): ActualState {
  return {
    owner,
    containers: [],
    networks: [],
    volumes: [],
    hostPaths: [],
    images: [],
    foreign: { containers: [], networks: [], volumes: [] },
  };
}
