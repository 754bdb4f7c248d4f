import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runBackup } from '../../agent/backup/run-backup.ts';
import { checkRepository, restoreTest } from '../../agent/backup/verify.ts';
import { backupMetrics, backupMissed } from '../../agent/core/backup-status.ts';
import { removeAll, tempRoot, testContext, testTarget } from './helpers.ts';

let root: string;

before(async () => {
  root = await tempRoot('backup-corrupt-');
});

after(async () => {
  await removeAll(root);
});

/** Pack files of a local repository, largest first. */
async function packs(repo: string): Promise<{ file: string; size: number }[]> {
  const out: { file: string; size: number }[] = [];
  for (const dir of await readdir(path.join(repo, 'data'))) {
    for (const name of await readdir(path.join(repo, 'data', dir))) {
      const file = path.join(repo, 'data', dir, name);
      out.push({ file, size: (await stat(file)).size });
    }
  }
  return out.sort((a, b) => b.size - a.size);
}

test('restic check with a data subset reports a corrupted pack; the restore test fails too', async () => {
  const files = path.join(root, 'files');
  await mkdir(files, { recursive: true });
  await writeFile(path.join(files, 'data.bin'), randomBytes(3 * 1024 * 1024));
  const repo = path.join(root, 'repo');
  const target = testTarget({ appliance: 'checked', repository: repo, volumes: [{ name: 'files', hostPath: files }] });
  const ctx = testContext(target, path.join(root, 'state'));
  await runBackup(ctx);

  const healthy = await checkRepository(ctx, { readDataSubset: '100%' });
  assert.equal(healthy.ok, true, healthy.message);
  assert.equal((await restoreTest(ctx)).ok, true);

  const [biggest] = await packs(repo);
  assert.ok(biggest !== undefined && biggest.size > 1024 * 1024);
  const fh = await open(biggest.file, 'r+');
  try {
    await fh.write(Buffer.from('corruption!'), 0, 11, Math.floor(biggest.size / 2));
  } finally {
    await fh.close();
  }

  const broken = await checkRepository(ctx, { readDataSubset: '100%' });
  assert.equal(broken.ok, false);
  assert.match(broken.message, /pack|ciphertext|does not match/i);
  assert.doesNotMatch(broken.message, new RegExp(repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

  await assert.rejects(restoreTest(ctx));
  const status = await ctx.status.read(new Date());
  assert.equal(status.lastCheck?.ok, false);
  assert.equal(status.lastRestoreTest?.ok, false);
  assert.equal(status.counts.checksFailed, 1);
  const condition = backupMissed(status, { configured: true, maxAgeHours: 32 }, new Date());
  assert.equal(condition.status, false, 'the backup itself is recent');
  const metrics = backupMetrics(status, condition, 'checked');
  assert.match(metrics, /^appliance_backup_check_last_ok\{appliance="checked"\} 0$/m);
  assert.match(metrics, /^appliance_backup_restore_test_last_ok\{appliance="checked"\} 0$/m);
});
