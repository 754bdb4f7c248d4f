import assert from 'node:assert/strict';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../../agent/lib/exec.ts';
import { bootMachine } from '../../../agent/engine/boot.ts';
import { loadIdentities } from '../../../agent/sops/index.ts';
import { buildSeedIso } from '../../../agent/provision/seed-iso.ts';
import { renderSeedUserData } from '../../../agent/provision/seed-user-data.ts';
import { renderMetaData } from '../../../agent/provision/user-data.ts';
import { capturingLogger, Scratch } from './helpers.ts';

// Real seed ISOs on loop devices, mounted read-only as on the appliance: run under the docker lock.
describe('the first boot reads the NoCloud seed', () => {
  let s: Scratch;
  let identity: string;
  before(async () => {
    s = await Scratch.create();
    identity = (await run('age-keygen', [])).stdout;
  });
  after(() => s.cleanup());

  const bootstrap = {
    name: 'demo',
    repo: { url: 'http://127.0.0.1:1/config.git' },
    age_identity_file: '/etc/appliance/age.key',
    trust: { allow_unsigned: true },
  };

  /** Boots with a seed carrying `userData` and one blank data disk; returns the result, log and the disk's probe. */
  async function bootWith(name: string, userData: string | undefined) {
    const root = join(s.dir, name);
    await mkdir(root, { recursive: true });
    let seedDevice: string | null = null;
    if (userData !== undefined) {
      const iso = join(s.dir, `${name}.iso`);
      await buildSeedIso({ userData, metaData: renderMetaData({ instanceId: name, hostname: 'demo' }), out: iso });
      seedDevice = await s.loop(`${name}.iso`);
    }
    const disk = await s.loop(`${name}-disk.img`, 300);
    const mount = join(s.dir, `${name}-data`);
    s.mounts.push(mount);
    const { log, lines } = capturingLogger();
    const result = await bootMachine(
      { bootstrapFile: join(root, 'etc/appliance/bootstrap.yml'), dataMount: mount, seedDevice, root, disks: [disk] },
      { log, loadIdentities },
    );
    const blank = (await run('blkid', ['-p', disk], { okCodes: [0, 2] })).exitCode === 2;
    return { result, root, errors: lines().filter((l) => l.level === 'error'), blank, text: JSON.stringify(lines()) };
  }

  test("the seed's files are installed 0600 and the data disk is prepared", async () => {
    const seed = renderSeedUserData({ bootstrap, ageIdentity: identity });
    const { result, root, blank } = await bootWith('good', seed);
    assert.equal(result.mode, 'run', JSON.stringify(result));
    assert.equal(blank, false);
    for (const f of ['bootstrap.yml', 'age.key']) {
      const st = await stat(join(root, 'etc/appliance', f));
      assert.equal(st.mode & 0o777, 0o600, f);
    }
    assert.equal(await readFile(join(root, 'etc/appliance/age.key'), 'utf8'), identity);
  });

  const cases: [string, () => string | undefined, string, RegExp][] = [
    ['no seed and no bootstrap', () => undefined, 'NoConfiguration', /no configuration/],
    [
      'malformed user-data',
      () => '#cloud-config\nwrite_files: [ { path: /etc/appliance/age.key\n',
      'SeedUserDataInvalid',
      /malformed: YAML error at line/,
    ],
    ['user-data that is not cloud-config', () => 'hello\n', 'SeedUserDataInvalid', /does not start with #cloud-config/],
    [
      'a bootstrap.yml failing its schema',
      () =>
        renderSeedUserData({ bootstrap: { ...bootstrap, name: 'Not A Name', pol_interval: 3 }, ageIdentity: identity }),
      'BootstrapInvalid',
      /bootstrap\.yml is invalid: .*\/name/,
    ],
  ];
  for (const [name, userData, code, reason] of cases)
    test(`${name}: service mode ${code}, one log line, the data disk untouched`, async () => {
      const { result, errors, blank, text } = await bootWith(name.replace(/\W+/g, '-'), userData());
      assert.equal(result.mode === 'service' && result.code, code, JSON.stringify(result));
      assert.match(result.mode === 'service' ? result.reason : '', reason);
      assert.equal(errors.length, 1);
      assert.equal(blank, true, 'the data disk was formatted');
      assert.doesNotMatch(text, /AGE-SECRET-KEY/);
    });
});
