import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { restoreBackup } from '../../agent/backup/restore.ts';
import { runBackup } from '../../agent/backup/run-backup.ts';
import { STAGE_DIR } from '../../agent/backup/frozen-volumes.ts';
import { restoreTest } from '../../agent/backup/verify.ts';
import { btrfsOps } from '../../agent/drivers/snapshot/volume-ops.ts';
import { loopBtrfs, type LoopBtrfs } from '../../devenv/env/btrfs.ts';
import { seedFiles, testContext, testTarget, treeDigest } from './helpers.ts';

let fs: LoopBtrfs;
let scratch: string;

before(async () => {
  fs = await loopBtrfs('backup-frozen', '1G');
  scratch = await mkdtemp(path.join(tmpdir(), 'backup-frozen-'));
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
  await fs.down();
});

/** A file store and a backup of it in which the app appends to a file once restic is about to read. */
async function backupWhileWriting(files: string, name: string): Promise<ReturnType<typeof testContext>> {
  await seedFiles(files);
  const log = path.join(files, 'app.log');
  await writeFile(log, 'line 1\n');
  const target = testTarget({
    appliance: name,
    repository: path.join(scratch, name, 'repo'),
    volumes: [{ name: 'files', hostPath: files }],
  });
  const ctx = testContext(target, path.join(scratch, name, 'state'));
  await runBackup(ctx, {
    onPhase: (phase) => {
      // After the scan hashed the files, before restic reads them: the app keeps writing.
      if (phase === 'upload') appendFileSync(log, 'line 2, written during the backup\n');
    },
  });
  return ctx;
}

test('on btrfs a backup reads a snapshot of the volumes: what the app writes meanwhile does not spoil it', async () => {
  const files = path.join(fs.mount, 'data', 'files');
  await btrfsOps.makeVolume(files);
  const ctx = await backupWhileWriting(files, 'frozen');
  assert.deepEqual(await readdir(path.dirname(files)), ['files'], 'the snapshots are gone after the backup');

  const check = await restoreTest(ctx);
  assert.equal(check.ok, true, JSON.stringify(check.mismatches));

  // Restored as of the snapshot: the line written during the backup is not in it.
  const expected = await treeDigest(files);
  await restoreBackup(ctx, { app: { stop: () => Promise.resolve(), start: () => Promise.resolve() } });
  const restored = await treeDigest(files);
  assert.notEqual(restored['app.log'], expected['app.log']);
  assert.deepEqual({ ...restored, 'app.log': '' }, { ...expected, 'app.log': '' });
});

test('a stage left by a killed backup is removed, read-only snapshots and all', async () => {
  const files = path.join(fs.mount, 'left', 'files');
  await btrfsOps.makeVolume(files);
  const stale = path.join(fs.mount, 'left', STAGE_DIR);
  await mkdir(stale);
  await btrfsOps.copy(files, path.join(stale, files), true);
  await backupWhileWriting(files, 'left');
  assert.deepEqual(await readdir(path.dirname(files)), ['files']);
});

test('live volumes (not subvolumes) are still backed up, and the manifest then records the file as scanned', async () => {
  const files = path.join(scratch, 'plain', 'files');
  await mkdir(files, { recursive: true });
  const ctx = await backupWhileWriting(files, 'plain');
  const check = await restoreTest(ctx);
  // The price of reading live files: the one written during the backup differs from its manifest entry.
  assert.equal(check.ok, false);
  assert.deepEqual(
    check.mismatches.map((m) => m.name),
    ['files/app.log'],
  );
});
