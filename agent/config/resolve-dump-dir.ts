import type { DesiredDumpDir, DesiredService, DesiredVolume } from '../core/desired.ts';

/** The dump directory's volume name: a dot keeps it apart from the app's own volume names. */
export const DUMP_DIR_VOLUME = 'appliance.backup-dump';
/** Where the database container sees the dump directory. */
export const DUMP_DIR_TARGET = '/var/lib/appliance-backup-dump';
/** Its host directory, below the data path. */
export const DUMP_DIR_NAME = '.appliance-backup-dump';

/**
 * The directory a backup's pg_dump writes to, bind-mounted into the database container, so the
 * dump needs no copy out through the engine. It lives on the data path (a large dump does not
 * fill the root filesystem) but outside every volume: not in the file backup, not in snapshots.
 * The backup keeps it 0700 and empties it after each upload.
 */
export function resolveDumpDir(
  dataPath: string,
  database: DesiredService,
): { volume: DesiredVolume; service: DesiredService; dumpDir: DesiredDumpDir } {
  const hostPath = `${dataPath}/${DUMP_DIR_NAME}`;
  return {
    volume: { name: DUMP_DIR_VOLUME, kind: 'volatile', hostPath, backup: false },
    service: {
      ...database,
      mounts: [...database.mounts, { volume: DUMP_DIR_VOLUME, target: DUMP_DIR_TARGET, readOnly: false }],
    },
    dumpDir: { hostPath, target: DUMP_DIR_TARGET },
  };
}
