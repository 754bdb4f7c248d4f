import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backupFailed,
  backupMetrics,
  backupMissed,
  backupSucceeded,
  initialBackupStatus,
  jobStarted,
  type BackupSuccess,
} from '../../agent/core/backup-status.ts';

const T0 = new Date('2024-05-01T00:00:00Z');
const hours = (h: number): Date => new Date(T0.getTime() + h * 3600_000);

function success(at: Date): BackupSuccess {
  return {
    startedAt: new Date(at.getTime() - 60_000).toISOString(),
    finishedAt: at.toISOString(),
    durationSeconds: 60,
    snapshotId: 'abcd1234',
    revision: 'r1',
    bytesAdded: 1234,
    filesNew: 1,
    filesChanged: 2,
    totalBytes: 99999,
    totalFiles: 10,
    forgotten: 0,
  };
}

test('BackupMissed: fresh within the max age, missed after it (default 32 h)', () => {
  const s = backupSucceeded(initialBackupStatus(T0), success(T0));
  const opts = { configured: true, maxAgeHours: 32 };
  assert.deepEqual(
    [31, 32, 32.01, 100].map((h) => {
      const c = backupMissed(s, opts, hours(h));
      return [c.status, c.reason];
    }),
    [
      [false, 'Fresh'],
      [false, 'Fresh'],
      [true, 'Missed'],
      [true, 'Missed'],
    ],
  );
  assert.equal(backupMissed(s, opts, hours(40)).since, hours(32).toISOString());
  assert.match(backupMissed(s, opts, hours(40)).message, /40 h ago \(limit 32 h\)/);
});

test('BackupMissed: no backup yet waits one max age; failures do not reset the clock', () => {
  const fresh = initialBackupStatus(T0);
  const opts = { configured: true, maxAgeHours: 8 };
  assert.equal(backupMissed(fresh, opts, hours(7)).reason, 'Waiting');
  assert.equal(backupMissed(fresh, opts, hours(9)).reason, 'NeverSucceeded');
  const ok = backupSucceeded(fresh, success(hours(1)));
  const failed = backupFailed(ok, {
    startedAt: hours(5).toISOString(),
    finishedAt: hours(5).toISOString(),
    durationSeconds: 0,
    code: 'BackupDatabaseEmpty',
    message: 'refused',
  });
  assert.equal(failed.lastResult, 'failed');
  assert.equal(backupMissed(failed, opts, hours(10)).reason, 'Missed');
  assert.equal(backupMissed(undefined, { configured: false, maxAgeHours: 8 }, T0).reason, 'NotConfigured');
});

test('metrics: last success, duration, bytes added, counters; running jobs stay out', () => {
  const s = jobStarted(backupSucceeded(initialBackupStatus(T0), success(T0)), 'check', 42, T0);
  const text = backupMetrics(s, backupMissed(s, { configured: true, maxAgeHours: 32 }, T0), 'a"b');
  assert.match(text, /^appliance_backup_missed\{appliance="a_b"\} 0$/m);
  assert.match(
    text,
    new RegExp(`^appliance_backup_last_success_timestamp_seconds\\{appliance="a_b"\\} ${T0.getTime() / 1000}$`, 'm'),
  );
  assert.match(text, /^appliance_backup_last_duration_seconds\{appliance="a_b"\} 60$/m);
  assert.match(text, /^appliance_backup_last_bytes_added\{appliance="a_b"\} 1234$/m);
  assert.match(text, /^# TYPE appliance_backup_succeeded_total counter$/m);
  // The running check is not a result: "never checked" (0) until it ends.
  assert.match(text, /^appliance_backup_check_last_timestamp_seconds\{appliance="a_b"\} 0$/m);
  assert.match(text, /^appliance_backup_check_last_ok\{appliance="a_b"\} 0$/m);
  assert.ok(text.endsWith('\n'));
});
