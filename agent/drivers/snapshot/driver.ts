import type { SnapshotInfo, SnapshotKind } from '../../core/actual.ts';
import type { SnapshotVolume } from '../../core/steps.ts';

/** What a new snapshot is, besides its volumes. */
export interface SnapshotRequest {
  kind: SnapshotKind;
  volumes: readonly SnapshotVolume[];
  now: Date;
  /** Default true; a writable snapshot is the base of a clone. */
  readOnly?: boolean;
  /** Revision and migrated-by image at the time, kept in the snapshot's metadata. */
  revision?: string;
  appImage?: string;
}

/**
 * Snapshots of an appliance's data volumes (database and files together) under one data path:
 * `<root>/.snapshots/<KIND>-<UTC time>/{snapshot.json,<volume>…}`. Implementations: btrfs
 * (subvolumes, atomic and instant) and copy (plain directories, for a data path on another
 * filesystem); LVM-thin or ZFS would be others. Every operation is idempotent where a crash can
 * interrupt it, so recovery can simply run it again.
 */
export interface SnapshotDriver {
  readonly kind: 'btrfs' | 'copy';
  /** The data path. */
  readonly root: string;
  /**
   * True when a snapshot of these volumes taken while their users run is still consistent (each
   * volume is snapshotted atomically, like a power cut); else the users must be stopped first.
   */
  consistentWhileRunning(volumes: readonly SnapshotVolume[]): Promise<boolean>;
  /** Makes a volume directory: a subvolume on btrfs, so it can be snapshotted. No-op when it exists. */
  createVolume(hostPath: string): Promise<void>;
  /** Every complete snapshot, oldest first. */
  list(): Promise<SnapshotInfo[]>;
  /** Takes a snapshot named `<kind>-<time>` (a suffix when that name is taken). */
  create(request: SnapshotRequest): Promise<SnapshotInfo>;
  /** Writable copies of a snapshot's volumes at other paths (the base of a clone). */
  clone(name: string, targets: readonly SnapshotVolume[]): Promise<void>;
  /**
   * Puts the snapshot's volumes in place of the live ones, which move to a trash place named by
   * `trashId` (so `swapBack` can undo it). The users must be stopped. Idempotent.
   */
  swapIn(name: string, volumes: readonly SnapshotVolume[], trashId: string): Promise<void>;
  /** Undoes `swapIn`: the volumes in trash `trashId` go back in place. Idempotent. */
  swapBack(volumes: readonly SnapshotVolume[], trashId: string): Promise<void>;
  /** Deletes what `swapIn` moved aside. Idempotent. */
  dropTrash(trashId: string): Promise<void>;
  /** Deletes a snapshot; false when it was not there (already gone is fine). */
  delete(name: string): Promise<boolean>;
  /** Removes what interrupted snapshots and deletions left (never a restore's trash: recovery needs it). */
  sweep(): Promise<void>;
}

/** `PRE_MIGRATE-20260101T120000Z`: the kind and the UTC time, second precision. */
export function snapshotName(kind: SnapshotKind, at: Date): string {
  return `${kind}-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}
