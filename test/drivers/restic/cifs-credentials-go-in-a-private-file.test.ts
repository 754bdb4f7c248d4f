import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isAgentError } from '../../../agent/core/errors.ts';
import { mountLine, withBackupMount, type MountRun } from '../../../agent/drivers/restic/mount.ts';

const PASSWORD = 's3cr3t,pass';

interface Seen {
  argv: string[];
  fstab?: string;
  credentialsPath?: string | undefined;
  credentials?: string;
  credentialsMode?: number;
}

/**
 * A FAKE of the exec wrapper (no CIFS server is reachable here): it records every argv and, when
 * `mount` runs, the fstab line and the credentials file as the helper would find them.
 */
function recordingRun(seen: Seen[]): MountRun {
  return async (file, args) => {
    const entry: Seen = { argv: [file, ...args] };
    seen.push(entry);
    if (file === 'mountpoint') return { stdout: '', stderr: '', exitCode: 1 };
    if (file === 'mount') {
      entry.fstab = await readFile(args[1] ?? '', 'utf8');
      entry.credentialsPath = /credentials=([^,\s]+)/.exec(entry.fstab)?.[1];
      if (entry.credentialsPath !== undefined) {
        entry.credentials = await readFile(entry.credentialsPath, 'utf8');
        entry.credentialsMode = (await stat(entry.credentialsPath)).mode & 0o777;
      }
    }
    return { stdout: '', stderr: '', exitCode: 0 };
  };
}

test('a CIFS mount hands user, password and domain to mount.cifs in a 0600 file, removed after', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'cifs-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const target = path.join(root, 'mnt');
  const seen: Seen[] = [];
  const spec = {
    type: 'cifs',
    source: '//192.0.2.10/backup',
    target,
    options: `vers=3.0,username=backup,password=${PASSWORD.replace(/,/g, ',,')},domain=OFFICE,uid=0`,
  };
  const result = await withBackupMount(spec, () => Promise.resolve('ran'), { run: recordingRun(seen) });
  assert.equal(result, 'ran');
  const mount = seen.find((s) => s.argv[0] === 'mount');
  assert.ok(mount?.fstab !== undefined && mount.credentialsPath !== undefined);
  assert.deepEqual(mount.argv.slice(0, 2), ['mount', '-T']);
  assert.equal(mount.argv[3], target);
  // The options mount passes on as `mount.cifs -o …`: no credential in them.
  const options = mount.fstab.split(' ')[3] ?? '';
  assert.equal(options, `vers=3.0,uid=0,credentials=${mount.credentialsPath}`);
  for (const s of seen) assert.doesNotMatch(`${s.argv.join(' ')} ${s.fstab ?? ''}`, /password|s3cr3t|backup,|OFFICE/);
  assert.equal(mount.credentials, `username=backup\npassword=${PASSWORD}\ndomain=OFFICE\n`);
  assert.equal(mount.credentialsMode, 0o600);
  await assert.rejects(stat(mount.credentialsPath), { code: 'ENOENT' });
  assert.deepEqual(
    seen.map((s) => s.argv[0]),
    ['mountpoint', 'mount', 'umount'],
  );
});

test('whitespace in the mount options is refused before anything runs', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'cifs-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const seen: Seen[] = [];
  const spec = { type: 'cifs', source: '//h/s', target: path.join(root, 'mnt'), options: 'username=a, password=b c' };
  await assert.rejects(
    withBackupMount(spec, () => Promise.resolve(), { run: recordingRun(seen) }),
    (err: unknown) => isAgentError(err, 'BackupMountInvalid') && !String(err).includes('b c'),
  );
  assert.deepEqual(
    seen.map((s) => s.argv[0]),
    ['mountpoint'],
  );
  const schema = JSON.parse(await readFile('schema/env.schema.json', 'utf8')) as {
    properties: { backup: { properties: { mount: { properties: { options: { pattern: string } } } } } };
  };
  const pattern = new RegExp(schema.properties.backup.properties.mount.properties.options.pattern, 'u');
  assert.doesNotMatch('username=a,\tpassword=b', pattern);
  assert.match('username=a,password=b', pattern);
});

test('other filesystems keep their options as given', () => {
  const { line, credentials } = mountLine(
    { type: 'nfs', source: 'h:/export', target: '/mnt/b', options: 'vers=4.2,sec=sys' },
    '/unused',
  );
  assert.equal(line, 'h:/export /mnt/b nfs vers=4.2,sec=sys 0 0\n');
  assert.equal(credentials, undefined);
});
