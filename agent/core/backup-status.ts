/**
 * Backup status as a pure state machine: what the last backup, repository check and restore
 * test did, the `BackupMissed` condition and the Prometheus lines. Persisted by the backup
 * flows (one JSON file shared by the agent and `appliance backup …`), merged by the agent into
 * its status and /metrics.
 */

export type BackupJob = 'backup' | 'prune' | 'check' | 'restore-test' | 'restore' | 'recover';

export interface BackupRun {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
}

export interface BackupSuccess extends BackupRun {
  snapshotId: string;
  revision: string;
  bytesAdded: number;
  filesNew: number;
  filesChanged: number;
  totalBytes: number;
  totalFiles: number;
  /** restic forget's removals, or why retention did not run. */
  forgotten: number;
  retentionError?: string;
}

export interface BackupFailure extends BackupRun {
  code: string;
  message: string;
}

export interface CheckRecord extends BackupRun {
  ok: boolean;
  message: string;
}

export interface RestoreTestRecord extends BackupRun {
  ok: boolean;
  snapshotId?: string;
  tables: number;
  rows: number;
  files: number;
  mismatches: number;
  message: string;
}

export interface BackupStatus {
  /** When this status was first written: the age a missing first backup is measured from. */
  since: string;
  running?: { job: BackupJob; startedAt: string; pid: number };
  lastSuccess?: BackupSuccess;
  lastFailure?: BackupFailure;
  /** The outcome of the latest backup attempt. */
  lastResult?: 'succeeded' | 'failed';
  lastCheck?: CheckRecord;
  lastRestoreTest?: RestoreTestRecord;
  counts: { succeeded: number; failed: number; checksFailed: number; restoreTestsFailed: number };
}

/** A condition of the agent's status (same shape as status.ts's `Condition`). */
export interface BackupCondition {
  type: 'BackupMissed';
  status: boolean;
  reason: 'Fresh' | 'Missed' | 'NeverSucceeded' | 'NotConfigured' | 'Waiting';
  message: string;
  since: string;
}

/** The backup part of the agent's /status. */
export interface BackupView {
  /** env.yml has a backup repository. */
  configured: boolean;
  /** When each scheduled job runs next (ISO). */
  next: { backup?: string; prune?: string; check?: string; restoreTest?: string };
  condition: BackupCondition;
  status: BackupStatus;
}

export function initialBackupStatus(now: Date): BackupStatus {
  return { since: now.toISOString(), counts: { succeeded: 0, failed: 0, checksFailed: 0, restoreTestsFailed: 0 } };
}

export function jobStarted(status: BackupStatus, job: BackupJob, pid: number, now: Date): BackupStatus {
  return { ...status, running: { job, startedAt: now.toISOString(), pid } };
}

/** Clears `running` without recording an outcome (a restore or a refused run). */
export function jobEnded(status: BackupStatus): BackupStatus {
  const next = { ...status };
  delete next.running;
  return next;
}

export function backupSucceeded(status: BackupStatus, success: BackupSuccess): BackupStatus {
  return {
    ...jobEnded(status),
    lastSuccess: success,
    lastResult: 'succeeded',
    counts: { ...status.counts, succeeded: status.counts.succeeded + 1 },
  };
}

export function backupFailed(status: BackupStatus, failure: BackupFailure): BackupStatus {
  return {
    ...jobEnded(status),
    lastFailure: failure,
    lastResult: 'failed',
    counts: { ...status.counts, failed: status.counts.failed + 1 },
  };
}

export function checkFinished(status: BackupStatus, check: CheckRecord): BackupStatus {
  return {
    ...jobEnded(status),
    lastCheck: check,
    counts: { ...status.counts, checksFailed: status.counts.checksFailed + (check.ok ? 0 : 1) },
  };
}

export function restoreTestFinished(status: BackupStatus, test: RestoreTestRecord): BackupStatus {
  return {
    ...jobEnded(status),
    lastRestoreTest: test,
    counts: { ...status.counts, restoreTestsFailed: status.counts.restoreTestsFailed + (test.ok ? 0 : 1) },
  };
}

/**
 * `BackupMissed` is true when the last successful backup is older than `maxAgeHours`, or when
 * none succeeded within that time of the status starting, or when backups are not configured.
 */
export function backupMissed(
  status: BackupStatus | undefined,
  options: { configured: boolean; maxAgeHours: number; since?: string },
  now: Date,
): BackupCondition {
  const since = options.since ?? now.toISOString();
  if (!options.configured) {
    return { type: 'BackupMissed', status: true, reason: 'NotConfigured', message: 'env.yml has no backup', since };
  }
  const maxMs = options.maxAgeHours * 3600_000;
  const last = status?.lastSuccess?.finishedAt;
  if (last !== undefined) {
    const age = now.getTime() - Date.parse(last);
    const hours = Math.floor(age / 3600_000);
    return age > maxMs
      ? {
          type: 'BackupMissed',
          status: true,
          reason: 'Missed',
          message: `last successful backup ${hours} h ago (limit ${options.maxAgeHours} h)`,
          since: new Date(Date.parse(last) + maxMs).toISOString(),
        }
      : {
          type: 'BackupMissed',
          status: false,
          reason: 'Fresh',
          message: `last successful backup ${hours} h ago`,
          since: last,
        };
  }
  const start = status?.since ?? since;
  const waited = now.getTime() - Date.parse(start);
  return waited > maxMs
    ? {
        type: 'BackupMissed',
        status: true,
        reason: 'NeverSucceeded',
        message: `no successful backup since ${start}`,
        since: new Date(Date.parse(start) + maxMs).toISOString(),
      }
    : { type: 'BackupMissed', status: false, reason: 'Waiting', message: 'no backup has run yet', since: start };
}

/** Prometheus text lines (`appliance_backup_*`), newline-terminated; `appliance` is the label. */
export function backupMetrics(
  status: BackupStatus | undefined,
  condition: Pick<BackupCondition, 'status'>,
  appliance: string,
): string {
  const label = `{appliance="${appliance.replace(/["\\\n]/g, '_')}"}`;
  const lines: string[] = [];
  // Every series is there from the start (dashboards and alerts need no special case for a new
  // appliance): "never" is 0, as Prometheus exporters do for timestamps; HELP says so.
  const metric = (name: string, help: string, value: number, type = 'gauge'): void => {
    lines.push(`# HELP appliance_backup_${name} ${help}`, `# TYPE appliance_backup_${name} ${type}`);
    lines.push(`appliance_backup_${name}${label} ${value}`);
  };
  const time = (iso: string | undefined): number => (iso === undefined ? 0 : Math.floor(Date.parse(iso) / 1000));
  const ok = status?.lastSuccess;
  metric('missed', 'BackupMissed condition (1 = the last success is too old).', condition.status ? 1 : 0);
  metric('last_success_timestamp_seconds', 'End of the last successful backup (0 = never).', time(ok?.finishedAt));
  metric('last_duration_seconds', 'Duration of the last successful backup (0 = never).', ok?.durationSeconds ?? 0);
  metric(
    'last_bytes_added',
    'Bytes the last successful backup added to the repository (0 = never).',
    ok?.bytesAdded ?? 0,
  );
  metric('last_total_bytes', 'Bytes of files and dump in the last successful backup (0 = never).', ok?.totalBytes ?? 0);
  metric(
    'last_failure_timestamp_seconds',
    'End of the last failed backup (0 = never).',
    time(status?.lastFailure?.finishedAt),
  );
  const check = status?.lastCheck;
  metric('check_last_timestamp_seconds', 'End of the last repository check (0 = never).', time(check?.finishedAt));
  metric(
    'check_last_ok',
    'Result of the last repository check (1 = no errors; 0 = errors, or never checked when the timestamp is 0).',
    check?.ok === true ? 1 : 0,
  );
  const test = status?.lastRestoreTest;
  metric('restore_test_last_timestamp_seconds', 'End of the last restore test (0 = never).', time(test?.finishedAt));
  metric(
    'restore_test_last_ok',
    'Result of the last restore test (1 = identical; 0 = differences, or never run when the timestamp is 0).',
    test?.ok === true ? 1 : 0,
  );
  metric('succeeded_total', 'Successful backups.', status?.counts.succeeded ?? 0, 'counter');
  metric('failed_total', 'Failed or refused backups.', status?.counts.failed ?? 0, 'counter');
  return `${lines.join('\n')}\n`;
}
