import type { BackupMount, BackupPolicy } from './config-types.gen.ts';
import type { DesiredState } from './desired.ts';
import { containerName } from './names.ts';

/** A volume whose files are backed up. */
export interface BackupVolume {
  name: string;
  hostPath: string;
}

/** The app's database as the backup reaches it. */
export interface BackupDatabase {
  /** The database service's container. */
  container: string;
  name: string;
  user: string;
  password: string;
  /** The host directory pg_dump writes to, and where the container sees it. */
  dumpDir?: { hostPath: string; target: string };
}

/** env.yml `backup`: where the repository is. All of it is secret. */
export interface BackupRepositorySettings {
  repository: string;
  password: string;
  env: Record<string, string>;
  knownHosts: string[];
  mount?: BackupMount;
}

/** Everything backup, restore and recovery need from the desired state, in one place. */
export interface BackupTarget {
  appliance: string;
  revision: string;
  /** Zone in which schedules and retention days are read. */
  timezone: string;
  volumes: BackupVolume[];
  database?: BackupDatabase;
  /** Absent when env.yml has no `backup`: nothing can be backed up. */
  repository?: BackupRepositorySettings;
  policy: BackupPolicy;
  schedules: { backup: string | null; prune: string | null; check: string | null; restoreTest: string | null };
  recoverFromBackup: boolean;
  recoverFromDump?: string;
}

/** Tags every snapshot of an appliance carries. */
export function snapshotTags(appliance: string, revision: string): string[] {
  return [`appliance=${appliance}`, `revision=${revision}`];
}

/** The tag that selects an appliance's snapshots. */
export function applianceTag(appliance: string): string {
  return `appliance=${appliance}`;
}

/** Reads the backup's view of a desired state (pure). */
export function backupTargetOf(desired: DesiredState): BackupTarget {
  const volumes = desired.app.volumes
    .filter((v) => v.backup && v.hostPath !== undefined)
    .map((v) => ({ name: v.name, hostPath: v.hostPath as string }));
  const db = desired.app.database;
  const backup = desired.site.backup;
  const target: BackupTarget = {
    appliance: desired.name,
    revision: desired.revision,
    timezone: desired.timezone,
    volumes,
    policy: desired.policies.backup,
    schedules: {
      backup: desired.schedules.backup,
      prune: desired.schedules.backup_prune,
      check: desired.schedules.backup_check,
      restoreTest: desired.schedules.restore_test,
    },
    recoverFromBackup: desired.site.recover_from_backup,
  };
  if (db !== undefined) {
    target.database = {
      container: containerName(desired.name, db.service),
      name: db.name,
      user: db.user,
      password: db.password.value,
      ...(db.dumpDir === undefined ? {} : { dumpDir: { ...db.dumpDir } }),
    };
  }
  if (backup !== undefined) {
    target.repository = {
      repository: backup.repository,
      password: backup.password,
      env: { ...backup.env },
      knownHosts: [...(backup.known_hosts ?? [])],
      ...(backup.mount === undefined ? {} : { mount: backup.mount }),
    };
  }
  if (desired.site.recover_from_dump !== undefined) target.recoverFromDump = desired.site.recover_from_dump;
  return target;
}
