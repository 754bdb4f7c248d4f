import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isAgentError } from '../../../agent/core/errors.ts';
import { memoOpens } from '../../../agent/drivers/restic/key-memo.ts';
import { Restic } from '../../../agent/drivers/restic/restic.ts';
import { run } from '../../../agent/lib/exec.ts';

const PASSWORD = 'memo-test-password-5f1c';
let root: string;
let bin: string;
let calls: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'restic-memo-'));
  // The real restic, each call's subcommand noted: what the driver asked restic.
  calls = path.join(root, 'calls');
  bin = path.join(root, 'restic');
  await writeFile(bin, `#!/bin/sh\necho "$1" >> '${calls}'\nexec restic "$@"\n`);
  await chmod(bin, 0o755);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function asked(): Promise<string[]> {
  const text = await readFile(calls, 'utf8').catch(() => '');
  await rm(calls, { force: true });
  return text.split('\n').filter((l) => l !== '');
}

function driver(repo: string, password: string, memo: string): Restic {
  return new Restic({ repository: repo, password }, { bin, keyMemo: memo, cacheDir: path.join(root, 'cache') });
}

test('a local repository this password opened before is checked without restic, until something changes', async () => {
  const repo = path.join(root, 'repo');
  const memo = path.join(root, 'state', 'restic-key.json');
  const restic = driver(repo, PASSWORD, memo);
  assert.equal(await restic.init(), true);
  assert.deepEqual(await asked(), ['unlock', 'init']);
  // The memo is private and holds neither the password nor the location.
  assert.equal((await stat(memo)).mode & 0o777, 0o600);
  const text = await readFile(memo, 'utf8');
  assert.ok(!text.includes(PASSWORD) && !text.includes(repo), text);

  assert.equal(await restic.exists(), true);
  assert.deepEqual(await asked(), [], 'the second check needs no restic call');

  // Another password: restic is asked and refuses it.
  await assert.rejects(driver(repo, 'not-the-password', memo).exists(), (err) =>
    isAgentError(err, 'BackupPasswordWrong'),
  );
  assert.deepEqual(await asked(), ['unlock']);
  assert.equal(await restic.exists(), true);
  assert.deepEqual(await asked(), []);

  // A lock left by a run that is gone (copied while a slow backup held it): restic removes it.
  const env = { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: path.join(root, 'cache') };
  const lock = await staleLock(repo, env);
  assert.equal(await memoOpens(memo, repo, PASSWORD), false, 'a lock sends the check to restic');
  assert.equal(await restic.exists(), true);
  assert.deepEqual(await asked(), ['unlock']);
  assert.deepEqual(await readdir(path.join(repo, 'locks')), [], `stale lock ${lock} removed`);
  assert.equal(await restic.exists(), true);
  assert.deepEqual(await asked(), []);

  // The password changed by `restic key passwd`: the old key file is gone, so restic is asked.
  await run('restic', ['key', 'passwd', '--new-password-file', await secretFile('new-password-d8a2')], { env });
  await assert.rejects(restic.exists(), (err) => isAgentError(err, 'BackupPasswordWrong'));
  const renewed = driver(repo, 'new-password-d8a2', memo);
  assert.equal(await renewed.exists(), true);
  await asked();
  assert.equal(await renewed.exists(), true);
  assert.deepEqual(await asked(), []);

  // A second key: restic says which one opened (once), then the memo holds again.
  await run('restic', ['key', 'add', '--new-password-file', await secretFile(PASSWORD)], {
    env: { ...env, RESTIC_PASSWORD: 'new-password-d8a2' },
  });
  assert.equal(await restic.exists(), true);
  assert.deepEqual(await asked(), ['unlock', 'key']);
  assert.equal(await restic.exists(), true);
  assert.equal(await renewed.exists(), true);
  assert.deepEqual(await asked(), ['unlock', 'key'], 'the other password is asked again, and remembered');

  // Another repository at the same place: its config differs.
  await rm(repo, { recursive: true, force: true });
  assert.equal(await restic.exists(), false);
  await run('restic', ['init'], { env });
  await asked();
  assert.equal(await restic.exists(), true);
  assert.deepEqual(await asked(), ['unlock']);
});

test('a remote repository is always asked', async () => {
  const memo = path.join(root, 'remote-memo.json');
  assert.equal(await memoOpens(memo, 'rest:http://127.0.0.1:1/repo', PASSWORD), false);
  assert.equal(await memoOpens(memo, 'sftp:backup@host:/srv/repo', PASSWORD), false);
  assert.equal(await memoOpens(memo, 'relative/repo', PASSWORD), false);
});

async function secretFile(value: string): Promise<string> {
  const file = path.join(root, `pw-${value}`);
  await writeFile(file, value, { mode: 0o600 });
  return file;
}

/** A lock file of a restic process that has ended: a throttled backup's, put back after it. */
async function staleLock(repo: string, env: Record<string, string>): Promise<string> {
  const data = path.join(root, 'slow');
  await writeFile(data, randomBytes(3 * 1024 * 1024));
  const locks = path.join(repo, 'locks');
  const backup = run('restic', ['backup', '--limit-upload', '1024', data], { env });
  let name = '';
  let bytes = Buffer.alloc(0);
  await waitFor(async () => {
    const [first] = await readdir(locks);
    if (first === undefined) return false;
    name = first;
    bytes = await readFile(path.join(locks, first));
    return true;
  });
  await backup;
  await writeFile(path.join(locks, name), bytes);
  return name;
}

async function waitFor(ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out');
}
