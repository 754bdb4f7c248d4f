import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SnapshotVolume } from '../../../agent/core/steps.ts';
import type { SnapshotDriver } from '../../../agent/drivers/snapshot/driver.ts';
import { openSnapshots } from '../../../agent/drivers/snapshot/store.ts';
import { isSubvolume } from '../../../agent/drivers/snapshot/volume-ops.ts';
import { loopBtrfs, type LoopBtrfs } from '../../../devenv/env/btrfs.ts';

let fs: LoopBtrfs;
let plain: string;
before(async () => {
  fs = await loopBtrfs('snapshot-driver', '1G');
  plain = await mkdtemp(path.join(tmpdir(), 'snapshot-copy-'));
});
after(async () => {
  await fs.down();
  await rm(plain, { recursive: true, force: true });
});

const T0 = new Date('2026-03-01T10:00:00Z');

for (const kind of ['btrfs', 'copy'] as const) {
  describe(`${kind} snapshots`, () => {
    let root: string;
    let snaps: SnapshotDriver;
    let volumes: SnapshotVolume[];

    before(async () => {
      root = path.join(kind === 'btrfs' ? fs.mount : plain, 'data');
      await rm(root, { recursive: true, force: true });
      snaps = await openSnapshots(root);
      volumes = [
        { volume: 'pgdata', hostPath: path.join(root, 'postgresql') },
        { volume: 'files', hostPath: path.join(root, 'files') },
      ];
      for (const v of volumes) await snaps.createVolume(v.hostPath);
    });

    test('the driver matches the filesystem; volumes are subvolumes on btrfs', async () => {
      assert.equal(snaps.kind, kind);
      for (const v of volumes) assert.equal(await isSubvolume(v.hostPath), kind === 'btrfs');
      assert.equal(await snaps.consistentWhileRunning(volumes), kind === 'btrfs');
    });

    test('a snapshot holds every volume as it was, read-only, and is listed with its time', async () => {
      await writeFile(path.join(volumes[0]?.hostPath ?? '', 'table'), 'rows 1-10\n');
      await writeFile(path.join(volumes[1]?.hostPath ?? '', 'upload.pdf'), 'v1\n');
      await chown(volumes[0]?.hostPath ?? '', 999, 999);
      const info = await snaps.create({ kind: 'PRE_MIGRATE', volumes, now: T0, revision: 'r1', appImage: 'demo:v1' });
      assert.equal(info.name, 'PRE_MIGRATE-20260301T100000Z');
      assert.deepEqual(info.volumes, ['pgdata', 'files']);
      const again = await snaps.create({ kind: 'PRE_MIGRATE', volumes, now: T0 });
      assert.equal(again.name, 'PRE_MIGRATE-20260301T100000Z-2', 'a second snapshot in the same second gets a suffix');
      assert.deepEqual(
        (await snaps.list()).map((s) => [s.name, s.kind, s.createdAt, s.appImage]),
        [
          ['PRE_MIGRATE-20260301T100000Z', 'PRE_MIGRATE', T0.toISOString(), 'demo:v1'],
          ['PRE_MIGRATE-20260301T100000Z-2', 'PRE_MIGRATE', T0.toISOString(), undefined],
        ],
      );
      const inSnapshot = path.join(root, '.snapshots', info.name, 'pgdata');
      assert.equal(await readFile(path.join(inSnapshot, 'table'), 'utf8'), 'rows 1-10\n');
      assert.equal((await stat(inSnapshot)).uid, 999, 'ownership is kept');
      if (kind === 'btrfs') {
        await assert.rejects(writeFile(path.join(inSnapshot, 'table'), 'changed'), /EROFS|read-only/i);
      }
    });

    test('swapIn puts the snapshot in place, swapBack undoes it, dropTrash forgets the live data', async () => {
      const [pg, files] = volumes as [SnapshotVolume, SnapshotVolume];
      await writeFile(path.join(pg.hostPath, 'table'), 'rows 1-10, then half migrated\n');
      await writeFile(path.join(files.hostPath, 'late.pdf'), 'written after\n');
      await snaps.swapIn('PRE_MIGRATE-20260301T100000Z', volumes, 'undo-test');
      await snaps.swapIn('PRE_MIGRATE-20260301T100000Z', volumes, 'undo-test');
      assert.equal(await readFile(path.join(pg.hostPath, 'table'), 'utf8'), 'rows 1-10\n', 'idempotent');
      assert.deepEqual((await readdir(files.hostPath)).sort(), ['upload.pdf']);
      assert.equal((await stat(pg.hostPath)).uid, 999);
      await writeFile(path.join(pg.hostPath, 'table'), 'writable after restore\n');

      await snaps.swapBack(volumes, 'undo-test');
      assert.equal(await readFile(path.join(pg.hostPath, 'table'), 'utf8'), 'rows 1-10, then half migrated\n');
      assert.deepEqual((await readdir(files.hostPath)).sort(), ['late.pdf', 'upload.pdf']);

      await snaps.swapIn('PRE_MIGRATE-20260301T100000Z', volumes, 'for-good');
      await snaps.dropTrash('for-good');
      await snaps.dropTrash('for-good');
      assert.equal(await readFile(path.join(pg.hostPath, 'table'), 'utf8'), 'rows 1-10\n');
      assert.deepEqual(await readdir(path.join(root, '.snapshots', '.trash')), []);
    });

    test('a clone is a writable copy elsewhere; a deleted snapshot is gone, and deleting it again is fine', async () => {
      const target = path.join(root, 'clone-pg');
      await snaps.clone('PRE_MIGRATE-20260301T100000Z', [{ volume: 'pgdata', hostPath: target }]);
      await writeFile(path.join(target, 'table'), 'clone data\n');
      assert.equal(await snaps.delete('PRE_MIGRATE-20260301T100000Z-2'), true);
      assert.equal(await snaps.delete('PRE_MIGRATE-20260301T100000Z-2'), false);
      assert.equal(await snaps.delete('PRE_MIGRATE-20260301T100000Z'), true);
      assert.deepEqual(await snaps.list(), []);
      await mkdir(path.join(root, '.snapshots', '.tmp-half'), { recursive: true });
      await snaps.sweep();
      assert.deepEqual((await readdir(path.join(root, '.snapshots'))).sort(), ['.deleting', '.trash']);
      assert.deepEqual(await readdir(path.join(root, '.snapshots', '.deleting')), []);
    });

    test('a volume outside the data path is refused', async () => {
      await assert.rejects(
        snaps.create({ kind: 'BACKUP', volumes: [{ volume: 'x', hostPath: '/etc' }], now: T0 }),
        (err: unknown) => (err as { code?: string }).code === 'SnapshotFailed',
      );
      await assert.rejects(
        snaps.createVolume('/etc/x'),
        (err: unknown) => (err as { code?: string }).code === 'VolumeOutsideDataPath',
      );
    });
  });
}
