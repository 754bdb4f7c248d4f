import path from 'node:path';
import type { DesiredState } from '../core/desired.ts';
import { snapshotVolumes } from '../core/plan-migrate.ts';
import type { SnapshotVolume } from '../core/steps.ts';

/** The data path snapshots live under, and the volumes they hold; undefined without data volumes. */
export function storageLayout(desired: DesiredState): { root: string; volumes: SnapshotVolume[] } | undefined {
  const volumes = snapshotVolumes(desired);
  if (volumes.length === 0) return undefined;
  return { root: storageRoot(desired, volumes), volumes };
}

/**
 * The data path: env.yml's `storage.paths.data` when every snapshotted volume is under it,
 * else the deepest directory they share (a desired state built without site settings).
 */
export function storageRoot(desired: DesiredState, volumes: readonly SnapshotVolume[]): string {
  const data = (desired.site as { storage?: { paths?: { data?: string } } }).storage?.paths?.data;
  const inside = (root: string, p: string): boolean => {
    const rel = path.relative(root, p);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  if (data !== undefined && volumes.every((v) => inside(data, v.hostPath))) return data;
  let root = path.dirname(volumes[0]?.hostPath ?? '/');
  while (!volumes.every((v) => inside(root, v.hostPath)) && path.dirname(root) !== root) root = path.dirname(root);
  return root;
}
