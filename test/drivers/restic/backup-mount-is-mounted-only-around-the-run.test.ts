import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isAgentError } from '../../../agent/core/errors.ts';
import { withBackupMount } from '../../../agent/drivers/restic/mount.ts';

let root: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'backup-mount-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function mounted(target: string): Promise<boolean> {
  return (await readFile('/proc/self/mounts', 'utf8')).split('\n').some((l) => l.split(' ')[1] === target);
}

test(
  'env.yml backup.mount is mounted for the run and unmounted after, also after a failure',
  { skip: process.getuid?.() !== 0 && 'needs root to mount' },
  async () => {
    const share = path.join(root, 'share');
    const target = path.join(root, 'mnt with space');
    await mkdir(share, { recursive: true });
    await writeFile(path.join(share, 'on-the-share'), 'x');
    const spec = { type: 'none', source: share, target, options: 'bind' };

    const seen = await withBackupMount(spec, async () => {
      assert.equal(await mounted(target.replace(/ /g, '\\040')), true);
      return readFile(path.join(target, 'on-the-share'), 'utf8');
    });
    assert.equal(seen, 'x');
    assert.equal(await mounted(target.replace(/ /g, '\\040')), false);

    await assert.rejects(
      withBackupMount(spec, () => Promise.reject(new Error('backup failed'))),
      /backup failed/,
    );
    assert.equal(await mounted(target.replace(/ /g, '\\040')), false);

    await assert.rejects(
      withBackupMount({ type: 'nosuchfs', source: share, target, options: 'password=hunter2secret' }, () =>
        Promise.resolve(),
      ),
      (err) => {
        assert.ok(isAgentError(err, 'BackupMountFailed'));
        assert.doesNotMatch(JSON.stringify({ m: err.message, d: err.data }), /hunter2secret/);
        return true;
      },
    );
  },
);
