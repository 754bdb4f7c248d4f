/** The label of the appliance's data filesystem: a disk with it is the appliance's own. */
export const DATA_LABEL = 'appliance-data';

/** A whole disk as the first boot sees it (lsblk plus a direct probe of its signatures). */
export interface DiskInfo {
  path: string;
  sizeBytes: number;
  /** Filesystem or partition-table signature found on the disk; undefined when blank. */
  signature?: string;
  label?: string;
  /** Partitions or holders on the disk. */
  hasChildren: boolean;
}

export type StoragePlan =
  | { action: 'mount'; devices: string[] }
  | { action: 'create'; devices: string[]; raid1: boolean }
  | { action: 'none'; reason: string };

/** Smallest data disk the first boot formats (btrfs itself needs ~110 MiB per device). */
export const MIN_DATA_DISK_BYTES = 256 * 1024 * 1024;

/**
 * What to do with the data disks: mount the appliance's own btrfs when there is one; else make
 * one on the blank disks (raid1 on two); never touch a disk that holds anything else.
 */
export function planStorage(disks: readonly DiskInfo[]): StoragePlan {
  const ours = disks.filter((d) => d.signature === 'btrfs' && d.label === DATA_LABEL);
  if (ours.length > 0) return { action: 'mount', devices: ours.map((d) => d.path) };
  const blank = disks.filter((d) => d.signature === undefined && !d.hasChildren && d.sizeBytes >= MIN_DATA_DISK_BYTES);
  if (blank.length > 0) {
    const devices = blank.slice(0, 2).map((d) => d.path);
    return { action: 'create', devices, raid1: devices.length === 2 };
  }
  if (disks.length === 0) return { action: 'none', reason: 'no data disk: attach an empty disk for the data' };
  const notes = disks.map((d) =>
    d.signature !== undefined
      ? `${d.path} holds ${d.signature}${d.label === undefined ? '' : ` (label ${d.label})`}`
      : d.hasChildren
        ? `${d.path} has partitions`
        : `${d.path} is too small (${Math.round(d.sizeBytes / 1048576)} MiB)`,
  );
  return {
    action: 'none',
    reason: `no usable data disk: ${notes.join('; ')}; a disk that holds data is never formatted`,
  };
}
