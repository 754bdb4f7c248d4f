import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { buildSeedIso } from '../../agent/provision/seed-iso.ts';
import { tempDir } from './helpers.ts';

/**
 * A stand-in xorriso that records the modes of what it was given to read (its last argument)
 * and then fails, so the test sees the staging while it exists and the cleanup after a failure.
 */
const fakeXorriso = (log: string): string => `#!/bin/sh
for last; do :; done
stat -c '%a %n' "$(dirname "$last")" "$last" "$last"/* > '${log}'
echo 'xorriso : FAILURE : simulated' >&2
exit 5
`;

test('staged files are 0600 in a 0700 directory and are removed when xorriso fails', async (t) => {
  const dir = await tempDir(t);
  const staging = join(dir, 'tmp');
  await mkdir(staging);
  const xorriso = join(dir, 'xorriso');
  const log = join(dir, 'modes.log');
  await writeFile(xorriso, fakeXorriso(log), { mode: 0o755 });
  const out = join(dir, 'seed.iso');
  await assert.rejects(
    buildSeedIso({
      userData: '#cloud-config\n# AGE-SECRET-KEY-1 stands here\n',
      metaData: 'instance-id: iid-x\n',
      extraFiles: [{ name: 'network-config', data: 'version: 2\n' }],
      out,
      tmpDir: staging,
      xorriso,
    }),
    (err: unknown) => isAgentError(err, 'ExecFailed') && /simulated/.test(err.message),
  );
  const modes = (await readFile(log, 'utf8')).trim().split('\n');
  assert.equal(modes.length, 5, modes.join('\n'));
  const [stage, root, ...staged] = modes;
  assert.match(stage ?? '', /^700 /);
  assert.match(root ?? '', /^700 /);
  for (const line of staged) assert.match(line, /^600 .*\/(meta-data|network-config|user-data)$/);
  assert.deepEqual(await readdir(staging), [], 'staging removed after the failure');
  await assert.rejects(stat(out), 'no ISO written');
});

test('staging is removed after a successful build too, and the ISO is 0600', async (t) => {
  const dir = await tempDir(t);
  const staging = join(dir, 'tmp');
  await mkdir(staging);
  const out = join(dir, 'seed.iso');
  await buildSeedIso({ userData: '#cloud-config\n', metaData: 'instance-id: iid-x\n', out, tmpDir: staging });
  assert.deepEqual(await readdir(staging), []);
  assert.equal((await stat(out)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['seed.iso', 'tmp'], 'no temp files left beside the ISO');
});
