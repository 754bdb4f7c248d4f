import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { run } from '../../agent/lib/exec.ts';
import { buildSeedIso } from '../../agent/provision/seed-iso.ts';
import { renderMetaData, renderUserData } from '../../agent/provision/user-data.ts';
import { ageKeyPair, have, tempDir } from './helpers.ts';

const networkConfig = 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n';

async function seed(t: TestContext): Promise<{ dir: string; iso: string; files: Record<string, string> }> {
  const dir = await tempDir(t);
  const { identity } = await ageKeyPair();
  const files = {
    'user-data': renderUserData({
      bootstrap: { name: 'demo-one', repo: { url: 'https://git.example.org/x.git' } },
      ageIdentity: identity,
      hostname: 'demo-one',
    }),
    'meta-data': renderMetaData({ instanceId: 'iid-demo-one-1', hostname: 'demo-one' }),
    'network-config': networkConfig,
  };
  const iso = join(dir, 'out', 'seed.iso');
  await buildSeedIso({
    userData: files['user-data'],
    metaData: files['meta-data'],
    extraFiles: [{ name: 'network-config', data: networkConfig }],
    out: iso,
  });
  return { dir, iso, files };
}

test('xorriso reads back an ISO labelled cidata with Rock Ridge and Joliet names, byte for byte', async (t) => {
  const { dir, iso, files } = await seed(t);
  assert.equal((await stat(iso)).mode & 0o777, 0o600);

  const pvd = await run('xorriso', ['-indev', iso, '-pvd_info']);
  assert.match(pvd.stdout + pvd.stderr, /Volume Id\s*:\s*cidata\b/);

  const rr = await run('xorriso', ['-indev', iso, '-find', '/', '-type', 'f']);
  assert.deepEqual(rr.stdout.trim().split('\n').sort(), ["'/meta-data'", "'/network-config'", "'/user-data'"]);
  // Without Rock Ridge, the long lower-case names can only come from the Joliet tree.
  const joliet = await run('xorriso', [
    '-rockridge',
    'off',
    '-joliet',
    'on',
    '-indev',
    iso,
    '-find',
    '/',
    '-type',
    'f',
  ]);
  assert.deepEqual(joliet.stdout.trim().split('\n').sort(), ["'/meta-data'", "'/network-config'", "'/user-data'"]);
  const lsl = await run('xorriso', ['-indev', iso, '-lsl', '/user-data']);
  assert.match(lsl.stdout, /^-rw-------/m, 'Rock Ridge keeps the staging mode 0600');

  const out = join(dir, 'extracted');
  await run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out]);
  for (const [name, content] of Object.entries(files))
    assert.equal(await readFile(join(out, name), 'utf8'), content, name);
});

test('the seed ISO mounts on a loop device and shows the files', async (t) => {
  const { dir, iso, files } = await seed(t);
  const mnt = join(dir, 'mnt');
  await mkdir(mnt);
  let unmount: string[];
  try {
    await run('mount', ['-o', 'loop,ro', iso, mnt]);
    unmount = ['umount', mnt];
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const kernelHasIso = /\biso9660\b/.test(await readFile('/proc/filesystems', 'utf8'));
    const notPermitted = process.getuid?.() !== 0 || /permission denied|not permitted|superuser/i.test(message);
    if (kernelHasIso && !notPermitted) throw err;
    // No iso9660 driver in this kernel (and no modules), or no right to mount: FUSE is a real mount too.
    if (!(await have('fuseiso'))) {
      t.skip(`mount -o loop is not possible here (${message.split('\n', 1)[0] ?? ''}) and fuseiso is missing`);
      return;
    }
    t.diagnostic(
      `mount -o loop failed (${kernelHasIso ? 'not permitted' : 'no iso9660 in this kernel'}): using fuseiso`,
    );
    await run('fuseiso', [iso, mnt]);
    unmount = ['fusermount', '-u', mnt];
  }
  try {
    assert.deepEqual((await readdir(mnt)).sort(), ['meta-data', 'network-config', 'user-data']);
    for (const [name, content] of Object.entries(files))
      assert.equal(await readFile(join(mnt, name), 'utf8'), content, name);
  } finally {
    const [cmd = 'umount', ...args] = unmount;
    await run(cmd, args);
  }
});

test('bad seed input is refused before anything is written', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'seed.iso');
  await assert.rejects(
    buildSeedIso({ userData: '#cloud-config\n', metaData: 'local-hostname: x\n', out }),
    (err: unknown) => isAgentError(err, 'SeedMetaDataInvalid'),
  );
  for (const name of ['user-data', '../x', 'a/b'])
    await assert.rejects(
      buildSeedIso({
        userData: '#cloud-config\n',
        metaData: 'instance-id: x\n',
        extraFiles: [{ name, data: 'x' }],
        out,
      }),
      (err: unknown) => isAgentError(err, 'SeedFileInvalid'),
    );
  await writeFile(join(dir, 'marker'), '');
  assert.deepEqual(await readdir(dir), ['marker']);
});
