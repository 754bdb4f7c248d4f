import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { btrfsSnapshotter } from '../../agent/backup/state-snapshotter.ts';
import { openSnapshots } from '../../agent/drivers/snapshot/store.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { loopBtrfs, type LoopBtrfs } from '../../devenv/env/btrfs.ts';
import { demoDesired } from '../../devenv/desired-builder.ts';

const log = createLogger({ level: 'silent' });
let fs: LoopBtrfs;

before(async () => {
  fs = await loopBtrfs('pre-restore', '1G');
});

after(async () => {
  await fs.down();
});

function desiredAt(dataDir: string): ReturnType<typeof demoDesired> {
  return demoDesired({ owner: 'prs', postgresImage: 'pg', webImage: 'web', password: 'pw', dataDir });
}

test('on btrfs the state before a restore is kept as a PRE_RESTORE snapshot', async () => {
  const dataDir = path.join(fs.mount, `pgdata-${Date.now()}`);
  const snaps = await openSnapshots(fs.mount);
  await snaps.createVolume(dataDir);
  await writeFile(path.join(dataDir, 'PG_VERSION'), '15\n');
  const snapshotter = await btrfsSnapshotter(desiredAt(dataDir), log);
  assert.ok(snapshotter !== undefined);
  const name = await snapshotter.snapshot('PRE_RESTORE', 'before restoring backup 1a2b3c4d');
  await writeFile(path.join(dataDir, 'PG_VERSION'), 'changed by the restore\n');
  const taken = (await snaps.list()).find((s) => s.name === name);
  assert.equal(taken?.kind, 'PRE_RESTORE');
  const kept = await readFile(path.join(fs.mount, '.snapshots', name, 'pgdata', 'PG_VERSION'), 'utf8');
  assert.equal(kept, '15\n');
});

test('on another filesystem there is no snapshotter: the restore backs up with restic instead', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pre-restore-'));
  try {
    assert.equal(await btrfsSnapshotter(desiredAt(path.join(dir, 'pgdata')), log), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
