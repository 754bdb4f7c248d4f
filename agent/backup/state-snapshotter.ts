import type { DesiredState } from '../core/desired.ts';
import { openSnapshots } from '../drivers/snapshot/store.ts';
import { storageLayout } from '../machine/storage-layout.ts';
import type { Logger } from '../lib/log.ts';
import type { StateSnapshotter } from './context.ts';

/**
 * A snapshotter for the state before a restore when the data path is on btrfs and one snapshot
 * of all data volumes is consistent while the database runs: instant, and undone like a failed
 * migration. Undefined otherwise (copies of a large file store would take as long as a backup;
 * the restore then backs the current state up with restic instead).
 */
export async function btrfsSnapshotter(desired: DesiredState, log: Logger): Promise<StateSnapshotter | undefined> {
  const layout = storageLayout(desired);
  if (layout === undefined) return undefined;
  const snaps = await openSnapshots(layout.root);
  if (snaps.kind !== 'btrfs' || !(await snaps.consistentWhileRunning(layout.volumes))) return undefined;
  return {
    snapshot: async (kind, label) => {
      const info = await snaps.create({ kind, volumes: layout.volumes, now: new Date(), revision: desired.revision });
      log.info({ snapshot: info.name, label }, 'snapshot taken');
      return info.name;
    },
  };
}
