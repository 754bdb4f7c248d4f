import {
  normalizeRef,
  type ActualState,
  type Inventory,
  type MigrationObservation,
  type SnapshotInfo,
} from './actual.ts';
import { emptyActual, inventoryOf } from './actual.ts';
import type { DesiredState } from './desired.ts';
import { desiredContainers, desiredNetworks, desiredVolumes, hostPathsOf } from './normalize.ts';
import type { AgentStatus, Condition } from './status.ts';

/**
 * What an appliance reports about itself in its status ref (`refs/appliances/<name>/status`,
 * file `status.json`): secret-free, read by `appliance review` and `appliance fleet status`.
 */
export interface ReportedState {
  format: 1;
  appliance: string;
  /** ISO time the report was made. */
  reportedAt: string;
  agentVersion: string;
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
  conditions: Condition[];
  lastError?: { code: string; message: string; revision?: string };
  /** Image of each service of the applied revision. */
  images: Record<string, string>;
  /** The image the database was last migrated by, and the migration states of images seen before. */
  migration?: { current?: { imageRef: string; state?: string }; known: { imageRef: string; state?: string }[] };
  lastBackup?: { at: string; snapshotId?: string };
  snapshots: Pick<SnapshotInfo, 'name' | 'kind' | 'createdAt' | 'appImage'>[];
  storageDriver?: 'btrfs' | 'copy';
}

/** A predicted machine and how it was predicted (for the reader of a review). */
export interface PredictedMachine {
  actual: ActualState;
  lastApplied?: Inventory;
  basis: string;
}

/**
 * The machine an appliance most likely is: exactly `applied` (the desired state of its last
 * reported revision) running healthy, with the migration state and snapshots it reported. With
 * nothing applied: an empty machine. The migration status of `next`'s image is predicted from
 * the report: the image the database was migrated by → up to date; an image with a recorded
 * state that is not current → a downgrade; any other → unknown, asked at apply time. Pure.
 */
export function predictMachine(
  next: DesiredState,
  applied: DesiredState | undefined,
  report: ReportedState | undefined,
  specKey: string,
): PredictedMachine {
  const dataRoot = dataRootOf(next);
  const storage =
    dataRoot === undefined
      ? {}
      : {
          storage: {
            driver: report?.storageDriver ?? ('btrfs' as const),
            root: dataRoot,
            snapshots: (report?.snapshots ?? []).map((s) => ({ ...s, volumes: [], readOnly: true })),
            restored: [],
          },
        };
  const empty: ActualState = { ...emptyActual(next.name), ...storage };
  if (applied === undefined) {
    const migration = predictMigration(next, report, undefined);
    return {
      actual: { ...empty, ...(migration === undefined ? {} : { migration }) },
      basis: 'an empty machine (no status reported by this appliance)',
    };
  }
  const containers = desiredContainers(applied, specKey).map((dc) => ({
    id: dc.name,
    name: dc.name,
    service: dc.service,
    revision: applied.revision,
    imageRef: dc.spec.image,
    imageId: `reported:${normalizeRef(dc.spec.image)}`,
    specHash: dc.specHash,
    spec: dc.spec,
    dependsOn: dc.dependsOn,
    networks: dc.spec.networks,
    state: 'running' as const,
    health: 'healthy' as const,
    labels: {},
  }));
  const images = [...new Set(containers.map((c) => normalizeRef(c.imageRef)))].map((ref) => ({
    id: `reported:${ref}`,
    tags: ref.includes('@') ? [] : [ref],
    digests: ref.includes('@') ? [ref] : [],
  }));
  const actual: ActualState = {
    ...empty,
    containers,
    networks: desiredNetworks(applied).map((n) => ({
      id: n.name,
      name: n.name,
      network: n.network,
      internal: n.internal,
      labels: {},
    })),
    volumes: desiredVolumes(applied).flatMap((v) =>
      v.name === undefined ? [] : [{ name: v.name, volume: v.volume, labels: {} }],
    ),
    hostPaths: hostPathsOf(applied),
    images,
  };
  const migration = predictMigration(next, report, applied);
  if (migration !== undefined) actual.migration = migration;
  return {
    actual,
    lastApplied: inventoryOf(actual, applied.revision),
    basis: `revision ${applied.revision.slice(0, 12)}, last reported applied${report === undefined ? '' : ` at ${report.reportedAt}`}`,
  };
}

function predictMigration(
  next: DesiredState,
  report: ReportedState | undefined,
  applied: DesiredState | undefined,
): MigrationObservation | undefined {
  const dataExists = applied !== undefined;
  const migrate = next.app.commands.migrate;
  if (migrate === undefined || next.app.database === undefined) return undefined;
  const image = normalizeRef(migrate.image);
  const ran = applied?.app.commands.migrate?.image;
  // Without a record, the image the applied revision ran is the one the database was migrated by.
  const current = report?.migration?.current ?? (ran === undefined ? undefined : { imageRef: ran });
  const base = { service: migrate.service, image: migrate.image, detail: [], dataExists, readOnly: true };
  if (current !== undefined && normalizeRef(current.imageRef) === image) {
    return { ...base, status: 'up-to-date', note: 'the database was last migrated by this image' };
  }
  const known = report?.migration?.known.find((k) => normalizeRef(k.imageRef) === image);
  if (dataExists && known !== undefined && current !== undefined) {
    return {
      ...base,
      status: 'db-newer',
      note: `the database was migrated by ${current.imageRef} after this image`,
      ...(known.state === undefined ? {} : { targetState: known.state }),
      current: {
        imageRef: current.imageRef,
        imageId: '',
        revision: '',
        at: '',
        ...(current.state === undefined ? {} : { state: current.state }),
      },
    };
  }
  return { ...base, status: 'unknown', note: 'an image the appliance has not migrated with' };
}

/** The directory holding the data volumes (snapshots are taken under it). */
function dataRootOf(desired: DesiredState): string | undefined {
  const v = desired.app.volumes.find((x) => (x.kind === 'data' || x.kind === 'database') && x.hostPath !== undefined);
  if (v?.hostPath === undefined) return undefined;
  const cut = v.hostPath.lastIndexOf('/');
  return cut > 0 ? v.hostPath.slice(0, cut) : v.hostPath;
}

/** What a report is made of; all secret-free. */
export interface ReportInput {
  status: AgentStatus;
  /** The desired state in force (its images). */
  desired?: DesiredState;
  migration?: { current?: { imageRef: string; state?: string }; images: { imageRef: string; state?: string }[] };
  lastBackup?: { at: string; snapshotId?: string };
  /** Snapshots on the data path, and its snapshot driver. */
  storage?: { driver: 'btrfs' | 'copy'; snapshots: readonly SnapshotInfo[] };
  agentVersion: string;
  now: Date;
}

/** The status ref's document from the agent's status (pure). */
export function reportOf(input: ReportInput): ReportedState {
  const { status } = input;
  const images: Record<string, string> = {};
  for (const s of input.desired?.app.services ?? []) images[s.name] = s.image;
  const current = input.migration?.current;
  return {
    format: 1,
    appliance: status.appliance,
    reportedAt: input.now.toISOString(),
    agentVersion: input.agentVersion,
    ...(status.lastAppliedRevision === undefined ? {} : { lastAppliedRevision: status.lastAppliedRevision }),
    ...(status.lastAttemptedRevision === undefined ? {} : { lastAttemptedRevision: status.lastAttemptedRevision }),
    // Reconciling flips at every cycle: it would make every report new.
    conditions: status.conditions.filter((c) => c.type !== 'Reconciling'),
    ...(status.lastError === undefined
      ? {}
      : {
          lastError: {
            code: status.lastError.code,
            message: status.lastError.message,
            ...(status.lastError.revision === undefined ? {} : { revision: status.lastError.revision }),
          },
        }),
    images,
    ...(input.migration === undefined
      ? {}
      : {
          migration: {
            ...(current === undefined ? {} : { current }),
            known: input.migration.images,
          },
        }),
    ...(input.lastBackup === undefined ? {} : { lastBackup: input.lastBackup }),
    snapshots: (input.storage?.snapshots ?? []).map((x) => ({
      name: x.name,
      kind: x.kind,
      createdAt: x.createdAt,
      ...(x.appImage === undefined ? {} : { appImage: x.appImage }),
    })),
    ...(input.storage === undefined ? {} : { storageDriver: input.storage.driver }),
  };
}

/** A report without its time: two reports with the same fingerprint need not both be pushed. */
export function reportFingerprint(report: ReportedState): string {
  const { reportedAt: _at, ...rest } = report;
  return JSON.stringify(rest);
}
