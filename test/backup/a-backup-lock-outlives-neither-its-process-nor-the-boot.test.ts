import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { acquireRunLock } from '../../agent/backup/run-lock.ts';
import { isAgentError } from '../../agent/core/errors.ts';

// The backup run lock names its holder by pid, boot and process start: after a power loss the
// pid in a lock left behind can be another process's, or the restarted agent's own.
let dir: string;
const now = new Date('2026-12-05T10:00:00Z');
const lockFile = (): string => path.join(dir, 'run.lock');
const bootId = async (): Promise<string> => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
const startOf = async (pid: number): Promise<string> => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
};
const holder = async (pid: number, extra: Record<string, string> = {}): Promise<void> => {
  await writeFile(lockFile(), JSON.stringify({ pid, job: 'backup', startedAt: now.toISOString(), ...extra }));
};

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'run-lock-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a lock records its holder; one of this very process is refused, released, and taken again', async () => {
  const lock = await acquireRunLock(dir, 'backup', now);
  const written = JSON.parse(await readFile(lockFile(), 'utf8')) as Record<string, unknown>;
  assert.equal(written['pid'], process.pid);
  assert.equal(written['boot'], await bootId());
  assert.equal(written['processStart'], await startOf(process.pid));
  await assert.rejects(acquireRunLock(dir, 'check', now), (err) => isAgentError(err, 'BackupBusy'));
  await lock.release();
  const again = await acquireRunLock(dir, 'check', now);
  assert.equal(again.tookOverStale, false);
  await again.release();
});

test("a lock left before a reboot is stale, even when its pid is this process's", async () => {
  await holder(process.pid, { boot: 'another-boot', processStart: await startOf(process.pid) });
  const lock = await acquireRunLock(dir, 'backup', now);
  assert.equal(lock.tookOverStale, true);
  await lock.release();
  // A lock of the format before boot and start, with this process's pid: an earlier process's.
  await holder(process.pid);
  const old = await acquireRunLock(dir, 'backup', now);
  assert.equal(old.tookOverStale, true);
  await old.release();
});

test('a live holder keeps its lock; its pid with another start time, or as a zombie, does not', async () => {
  // `sleep 0` ends at once and `exec sleep 30` never reaps it: a zombie beside a live process.
  const sh = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const live = sh.pid as number;
    const zombie = Number((await createInterface({ input: sh.stdout })[Symbol.asyncIterator]().next()).value);
    for (let i = 0; i < 100 && !/\) Z /.test(await readFile(`/proc/${zombie}/stat`, 'utf8')); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(await readFile(`/proc/${zombie}/stat`, 'utf8'), /\) Z /, 'the child is a zombie');

    await holder(live, { boot: await bootId(), processStart: await startOf(live) });
    await assert.rejects(acquireRunLock(dir, 'backup', now), (err) => isAgentError(err, 'BackupBusy'));
    await holder(live); // the format before boot and start: the pid alone
    await assert.rejects(acquireRunLock(dir, 'backup', now), (err) => isAgentError(err, 'BackupBusy'));

    await holder(live, { boot: await bootId(), processStart: '1' });
    const reused = await acquireRunLock(dir, 'backup', now);
    assert.equal(reused.tookOverStale, true, 'the pid now names another process');
    await reused.release();

    await holder(zombie);
    const dead = await acquireRunLock(dir, 'backup', now);
    assert.equal(dead.tookOverStale, true, 'a zombie runs nothing');
    await dead.release();
  } finally {
    sh.kill();
  }
});
