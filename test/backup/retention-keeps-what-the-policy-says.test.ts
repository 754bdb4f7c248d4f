import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BackupScheduler } from '../../agent/backup/scheduler.ts';
import { runBackup } from '../../agent/backup/run-backup.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { listBackups } from '../../agent/backup/restic-snapshots.ts';
import { removeAll, tempRoot, testContext, testTarget } from './helpers.ts';

let root: string;

before(async () => {
  root = await tempRoot('backup-retention-');
});

after(async () => {
  await removeAll(root);
});

// Snapshot times (UTC). 2024-03-03 is a Sunday: ISO week 9 runs 02-26 … 03-03.
const HISTORY = [
  '2024-01-01T12:00:00Z',
  '2024-01-15T12:00:00Z',
  '2024-01-31T12:00:00Z',
  '2024-02-10T12:00:00Z',
  '2024-02-20T12:00:00Z', // newest of week 8: weekly
  '2024-02-27T12:00:00Z',
  '2024-02-28T12:00:00Z',
  '2024-02-29T08:00:00Z',
  '2024-02-29T12:00:00Z', // newest of February: monthly
  '2024-03-01T12:00:00Z', // daily
  '2024-03-02T12:00:00Z', // daily
  '2024-03-03T08:00:00Z',
];
// The backup that applies retention: newest of its day, week and month.
const LAST = '2024-03-03T12:00:00Z';

test('retention (backup run --prune) keeps exactly daily 3, weekly 2, monthly 2 with keep_last 0', async () => {
  const files = path.join(root, 'files');
  await mkdir(files, { recursive: true });
  const target = testTarget({
    appliance: 'keeper',
    repository: path.join(root, 'repo'),
    volumes: [{ name: 'files', hostPath: files }],
    policy: { keep_last: 0, keep_daily: 3, keep_weekly: 2, keep_monthly: 2 },
  });
  const ctx = testContext(target, path.join(root, 'state'));
  for (const [i, time] of HISTORY.entries()) {
    await writeFile(path.join(files, 'f.txt'), `version ${i}\n`);
    await runBackup(ctx, { time: new Date(time) });
  }
  assert.equal((await listBackups(ctx)).length, HISTORY.length);

  await writeFile(path.join(files, 'f.txt'), 'last\n');
  const last = await runBackup(ctx, { time: new Date(LAST), prune: true });
  assert.equal(last.forgotten, HISTORY.length + 1 - 5);
  assert.equal(last.retentionError, undefined);

  const kept = (await listBackups(ctx)).map((s) => new Date(s.time).toISOString().replace('.000', ''));
  assert.deepEqual(kept, [
    '2024-02-20T12:00:00Z',
    '2024-02-29T12:00:00Z',
    '2024-03-01T12:00:00Z',
    '2024-03-02T12:00:00Z',
    LAST,
  ]);
});

test('a manual backup with --prune keeps the scheduled one of the same day (keep_last 3)', async () => {
  const files = path.join(root, 'same-day');
  await mkdir(files, { recursive: true });
  const target = testTarget({
    appliance: 'sameday',
    repository: path.join(root, 'repo-same-day'),
    volumes: [{ name: 'files', hostPath: files }],
    policy: { keep_daily: 7, keep_weekly: 4, keep_monthly: 6 },
  });
  assert.equal(target.policy.keep_last, 3, 'the default of appliance.yml');
  const ctx = testContext(target, path.join(root, 'state-same-day'));
  await writeFile(path.join(files, 'f.txt'), 'night\n');
  await runBackup(ctx, { time: new Date('2024-03-03T02:00:00Z') });
  await writeFile(path.join(files, 'f.txt'), 'morning\n');
  const manual = await runBackup(ctx, { time: new Date('2024-03-03T10:00:00Z'), prune: true });
  assert.equal(manual.forgotten, 0);
  const kept = (await listBackups(ctx)).map((s) => new Date(s.time).toISOString().replace('.000', ''));
  assert.deepEqual(kept, ['2024-03-03T02:00:00Z', '2024-03-03T10:00:00Z']);
});

test('backups leave retention to its own schedule; the prune job applies it', async () => {
  const files = path.join(root, 'scheduled');
  await mkdir(files, { recursive: true });
  const target = testTarget({
    appliance: 'pruned',
    repository: path.join(root, 'repo-scheduled'),
    volumes: [{ name: 'files', hostPath: files }],
    policy: { keep_last: 1, keep_daily: 1, keep_weekly: 0, keep_monthly: 0 },
  });
  const ctx = testContext(target, path.join(root, 'state-scheduled'));
  for (const day of ['01', '02', '03']) {
    await writeFile(path.join(files, 'f.txt'), `day ${day}\n`);
    const r = await runBackup(ctx, { time: new Date(`2024-03-${day}T22:30:00Z`) });
    assert.equal(r.forgotten, 0);
  }
  assert.equal((await listBackups(ctx)).length, 3, 'a backup removes none');

  const scheduler = new BackupScheduler({ log: createLogger({ level: 'silent' }) });
  scheduler.update(ctx);
  assert.ok(scheduler.nextRuns().prune instanceof Date, 'schedules.backup_prune is scheduled');
  assert.equal(await scheduler.run('prune'), true);
  await scheduler.stop();
  const kept = (await listBackups(ctx)).map((s) => new Date(s.time).toISOString().replace('.000', ''));
  assert.deepEqual(kept, ['2024-03-03T22:30:00Z']);
});
