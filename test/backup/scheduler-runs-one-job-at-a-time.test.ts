import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BackupScheduler } from '../../agent/backup/scheduler.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { removeAll, tempRoot, testContext, testTarget } from './helpers.ts';

let root: string;

before(async () => {
  root = await tempRoot('backup-scheduler-');
});

after(async () => {
  await removeAll(root);
});

test('schedules follow appliance.yml in its zone; jobs queue instead of overlapping; a lock held elsewhere skips', async () => {
  const files = path.join(root, 'files');
  await mkdir(files, { recursive: true });
  await writeFile(path.join(files, 'f'), 'x');
  const target = testTarget({
    appliance: 'sched',
    repository: path.join(root, 'repo'),
    volumes: [{ name: 'f', hostPath: files }],
  });
  target.timezone = 'Europe/Vienna';
  target.schedules = { backup: '30 22 * * *', prune: null, check: '0 5 * * 0', restoreTest: null };
  const stateDir = path.join(root, 'state');
  const ctx = testContext(target, stateDir);
  let envReads = 0;
  const scheduler = new BackupScheduler({
    log: createLogger({ level: 'silent' }),
    envYml: () => {
      envReads++;
      return Promise.resolve('sops: {}\n');
    },
  });
  scheduler.update(ctx);
  const next = scheduler.nextRuns();
  assert.deepEqual(Object.keys(next).sort(), ['backup', 'check']);
  // 22:30 in Vienna is 20:30 or 21:30 UTC.
  assert.match(next.backup?.toISOString() ?? '', /T2[01]:30:00\.000Z$/);
  assert.equal(next.check?.getUTCDay(), 0);

  // Started together, they run one after the other: none meets the other's lock.
  const results = await Promise.all([scheduler.run('backup'), scheduler.run('check'), scheduler.run('restore-test')]);
  assert.deepEqual(results, [true, true, true]);
  assert.equal(envReads, 1);
  const status = await ctx.status.read(new Date());
  assert.equal(status.counts.succeeded, 1);
  assert.equal(status.lastCheck?.ok, true);
  assert.equal(status.lastRestoreTest?.ok, true);

  // `appliance backup run` in another process holds the lock: the scheduled tick is skipped.
  const other = spawn('sleep', ['30']);
  try {
    await writeFile(
      path.join(stateDir, 'backup', 'run.lock'),
      JSON.stringify({ pid: other.pid, job: 'backup', startedAt: new Date().toISOString() }),
    );
    assert.equal(await scheduler.run('backup'), false);
  } finally {
    other.kill();
    await new Promise((resolve) => other.once('exit', resolve));
  }
  // Its process is gone: the lock is stale and taken over.
  assert.equal(await scheduler.run('backup'), true);

  // Unchanged schedules keep the jobs; stop ends them.
  scheduler.update(ctx);
  assert.equal(Object.keys(scheduler.nextRuns()).length, 2);
  await scheduler.stop();
  assert.deepEqual(scheduler.nextRuns(), {});
});
