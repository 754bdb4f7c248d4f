import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { runBackup } from '../../agent/backup/run-backup.ts';
import { listBackups } from '../../agent/backup/restic-snapshots.ts';
import { checkRepository, restoreTest } from '../../agent/backup/verify.ts';
import { removeAll, tempRoot, testContext, testTarget } from './helpers.ts';

const CHILD = path.join(import.meta.dirname, 'fixtures', 'backup-child.ts');
const REAPER = path.join(import.meta.dirname, 'fixtures', 'subreaper.py');
let root: string;

before(async () => {
  root = await tempRoot('backup-killed-');
});

after(async () => {
  await removeAll(root);
});

test('a backup killed with SIGKILL mid-upload leaves the repository usable; the next backup succeeds', async () => {
  const files = path.join(root, 'files');
  await mkdir(files, { recursive: true });
  // Incompressible data; the killed run's restic uploads it at 2 MiB/s (about 24 s), so the kill
  // always lands mid-upload however fast the machine is.
  for (let i = 0; i < 12; i++) await writeFile(path.join(files, `blob-${i}`), randomBytes(4 * 1024 * 1024));
  const slowBin = path.join(root, 'slow-bin');
  await mkdir(slowBin);
  await writeFile(path.join(slowBin, 'restic'), '#!/bin/sh\nexec /usr/bin/restic --limit-upload 2048 "$@"\n');
  await chmod(path.join(slowBin, 'restic'), 0o755);
  await writeFile(path.join(files, 'small.txt'), 'small\n');
  const target = testTarget({
    appliance: 'killed',
    repository: path.join(root, 'repo'),
    volumes: [{ name: 'files', hostPath: files }],
  });
  const stateDir = path.join(root, 'state');

  // The backup runs in its own process group under a reaper that outlives it (see subreaper.py).
  const child = spawn(
    'python3',
    [REAPER, process.execPath, '--import', 'tsx', CHILD, JSON.stringify(target), stateDir],
    {
      env: { ...process.env, PATH: `${slowBin}:${process.env['PATH'] ?? ''}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  let killedAt: { bytesDone: number; totalBytes: number } | undefined;
  let group: number | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const msg = JSON.parse(line) as { pid?: number; bytesDone?: number; totalBytes?: number; done?: boolean };
    assert.notEqual(msg.done, true, 'the backup finished before it could be killed');
    group ??= msg.pid;
    if (group !== undefined && msg.bytesDone !== undefined && msg.bytesDone > 0) {
      // restic counts bytes as done once read; the throttled upload of its packs is still under way.
      killedAt = { bytesDone: msg.bytesDone, totalBytes: msg.totalBytes ?? 0 };
      // The whole process group: the node process and its restic child.
      process.kill(-group, 'SIGKILL');
      break;
    }
  }
  // The reaper exits once the agent and its restic are gone, as the agent did.
  assert.equal(await exited, 128 + 9);
  assert.ok(killedAt !== undefined, 'restic reported progress before the kill');

  // What the kill left: the backup's run lock, a restic lock, the staging directory.
  await access(path.join(stateDir, 'backup', 'run.lock'));
  assert.ok((await readdir(path.join(root, 'repo', 'locks'))).length > 0, 'restic left its lock');

  const ctx = testContext(target, stateDir);
  assert.deepEqual(await listBackups(ctx), []);
  const next = await runBackup(ctx);
  assert.ok(next.totalBytes >= 12 * 4 * 1024 * 1024);
  assert.deepEqual(await readdir(path.join(root, 'repo', 'locks')), []);

  const check = await checkRepository(ctx);
  assert.equal(check.ok, true, check.message);
  const proof = await restoreTest(ctx);
  assert.equal(proof.ok, true, JSON.stringify(proof.mismatches));
  assert.equal(proof.files, 13);
  assert.equal((await listBackups(ctx)).length, 1);
});
