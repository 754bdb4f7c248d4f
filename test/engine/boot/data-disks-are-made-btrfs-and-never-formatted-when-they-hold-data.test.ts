import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../../agent/lib/exec.ts';
import { bootMachine, type BootOptions } from '../../../agent/engine/boot.ts';
import { loadIdentities } from '../../../agent/sops/index.ts';
import { capturingLogger, Scratch } from './helpers.ts';

// Real loop devices, mkfs.btrfs and mount: run under `flock /tmp/appliance-docker.lock`.
describe('the first boot prepares data disks', () => {
  let s: Scratch;
  let root: string;
  before(async () => {
    s = await Scratch.create();
    root = join(s.dir, 'root');
    await mkdir(join(root, 'etc/appliance'), { recursive: true, mode: 0o700 });
    const { stdout } = await run('age-keygen', []);
    await writeFile(join(root, 'etc/appliance/age.key'), stdout, { mode: 0o600 });
    await writeFile(
      join(root, 'etc/appliance/bootstrap.yml'),
      'name: demo\nrepo: { url: "http://127.0.0.1:1/config.git" }\nage_identity_file: /etc/appliance/age.key\ntrust: { allow_unsigned: true }\n',
      { mode: 0o600 },
    );
  });
  after(() => s.cleanup());

  const options = (data: string, disks: string[]): BootOptions => {
    const mount = join(s.dir, data);
    s.mounts.push(mount);
    return {
      bootstrapFile: join(root, 'etc/appliance/bootstrap.yml'),
      dataMount: mount,
      seedDevice: null,
      root,
      disks,
    };
  };

  test('one blank disk becomes btrfs, and the next boot mounts it again with its data', async () => {
    const disk = await s.loop('one.img', 400);
    const { log } = capturingLogger();
    const first = await bootMachine(options('data1', [disk]), { log, loadIdentities });
    assert.equal(first.mode, 'run', JSON.stringify(first));
    const mount = join(s.dir, 'data1');
    assert.match((await run('findmnt', ['-n', '-o', 'FSTYPE', mount])).stdout, /btrfs/);
    await writeFile(join(mount, 'kept'), 'rows');
    await run('umount', [mount]);
    const again = await bootMachine(options('data1', [disk]), { log, loadIdentities });
    assert.equal(again.mode, 'run');
    assert.equal((await run('cat', [join(mount, 'kept')])).stdout, 'rows');
    await run('umount', [mount]);
  });

  test('two blank disks become one btrfs raid1', async () => {
    const a = await s.loop('a.img', 400);
    const b = await s.loop('b.img', 400);
    const result = await bootMachine(options('data2', [a, b]), { log: capturingLogger().log, loadIdentities });
    assert.equal(result.mode === 'run' && result.storage.profile, 'raid1', JSON.stringify(result));
    await run('umount', [join(s.dir, 'data2')]);
  });

  for (const [name, prepare, expected] of [
    ['an ext4 disk', (dev: string) => run('mkfs.ext4', ['-q', dev]), /holds ext4/],
    ['a disk of unknown data', (dev: string) => scribble(dev), /holds data of an unknown kind/],
  ] as const)
    test(`${name} is not touched: service mode with the reason and one log line`, async () => {
      const disk = await s.loop(`${name.replace(/\W/g, '')}.img`, 300);
      await prepare(disk);
      const before = await firstMiB(disk);
      const { log, lines } = capturingLogger();
      const result = await bootMachine(options(`data-${before.slice(0, 6)}`, [disk]), { log, loadIdentities });
      assert.equal(result.mode === 'service' && result.code, 'NoStorage', JSON.stringify(result));
      assert.match(result.mode === 'service' ? result.reason : '', expected);
      assert.equal(await firstMiB(disk), before, 'the disk was changed');
      const errors = lines().filter((l) => l.level === 'error');
      assert.equal(errors.length, 1);
      assert.match(errors[0]?.msg ?? '', /service mode: no usable data disk/);
    });

  test('a full data disk is service mode with the free space in the reason', async () => {
    const disk = await s.loop('full.img', 300);
    const { log } = capturingLogger();
    const first = await bootMachine(options('data-full', [disk]), { log, loadIdentities });
    assert.equal(first.mode, 'run');
    const mount = join(s.dir, 'data-full');
    await run('dd', ['if=/dev/zero', `of=${join(mount, 'filler')}`, 'bs=1M', 'status=none'], { okCodes: [0, 1] });
    await run('sync', []);
    await run('umount', [mount]);
    const { log: log2, lines } = capturingLogger();
    const full = await bootMachine(options('data-full', [disk]), { log: log2, loadIdentities });
    assert.equal(full.mode === 'service' && full.code, 'StorageFull', JSON.stringify(full));
    assert.match(full.mode === 'service' ? full.reason : '', /is full: \d+ MiB free/);
    assert.equal(lines().filter((l) => l.level === 'error').length, 1);
    await run('umount', [mount]);
  });
});

async function scribble(dev: string): Promise<void> {
  const fh = await open(dev, 'r+');
  try {
    await fh.write(Buffer.from('not a filesystem anyone knows '.repeat(100)), 0, undefined, 4096);
  } finally {
    await fh.close();
  }
}

async function firstMiB(dev: string): Promise<string> {
  const fh = await open(dev, 'r');
  try {
    const buf = Buffer.alloc(1024 * 1024);
    await fh.read(buf, 0, buf.length, 0);
    return createHash('sha256').update(buf).digest('hex');
  } finally {
    await fh.close();
  }
}
