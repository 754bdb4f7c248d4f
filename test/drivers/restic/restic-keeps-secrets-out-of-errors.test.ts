import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { isAgentError } from '../../../agent/core/errors.ts';
import { Restic } from '../../../agent/drivers/restic/restic.ts';
import { sftpCommand, sftpTarget } from '../../../agent/drivers/restic/sftp.ts';

const PASSWORD = 'hunter2-correct-horse-battery';
let root: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'restic-driver-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function assertNoSecret(err: unknown, ...secrets: string[]): void {
  const text = JSON.stringify({ message: (err as Error).message, data: (err as { data?: unknown }).data });
  for (const s of secrets) assert.ok(!text.includes(s), `error leaks ${s}: ${text}`);
}

test('init, backup with tags, list, dump: paths relative to cwd land at the snapshot root', async () => {
  const repo = path.join(root, 'secret-repo-name');
  const restic = new Restic({ repository: repo, password: PASSWORD }, { cacheDir: path.join(root, 'cache') });
  assert.equal(await restic.exists(), false);
  assert.equal(await restic.init(), true);
  assert.equal(await restic.init(), false);
  const stage = path.join(root, 'stage');
  await mkdir(path.join(stage, 'db'), { recursive: true });
  await writeFile(path.join(stage, 'db', 'x.dump'), 'dump bytes');
  const summary = await restic.backup({
    paths: ['db'],
    cwd: stage,
    host: 'app-1',
    tags: ['appliance=app-1', 'revision=abc'],
  });
  assert.equal(summary.filesNew, 1);
  const snaps = await restic.snapshots({ tags: ['appliance=app-1'] });
  assert.equal(snaps.length, 1);
  const [snap] = snaps;
  assert.ok(snap !== undefined);
  assert.equal(snap.hostname, 'app-1');
  assert.deepEqual(snap.tags, ['appliance=app-1', 'revision=abc']);
  assert.deepEqual(await restic.snapshots({ tags: ['appliance=other'] }), []);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await restic.dump(snap.id, '/db/x.dump', out);
  assert.equal(Buffer.concat(chunks).toString(), 'dump bytes');
});

test('a wrong password is a terminal error that names neither password nor repository', async () => {
  const repo = path.join(root, 'secret-repo-name');
  const wrong = 'wrong-password-0123456789';
  const restic = new Restic({ repository: repo, password: wrong });
  await assert.rejects(restic.snapshots(), (err) => {
    assert.ok(isAgentError(err, 'BackupPasswordWrong'), String(err));
    assert.equal(err.terminal, true);
    assertNoSecret(err, wrong, repo);
    return true;
  });
});

test('a missing file is a failed dump; an unreachable REST server keeps its credentials out of the error', async () => {
  const repo = path.join(root, 'secret-repo-name');
  const restic = new Restic({ repository: repo, password: PASSWORD });
  await assert.rejects(restic.dump('latest', '/nope', new PassThrough()), (err) => {
    assert.ok(isAgentError(err, 'BackupCommandFailed'));
    assertNoSecret(err, PASSWORD, repo);
    return true;
  });
  const url = 'rest:http://backup-user:s3cr3t-rest-pass@127.0.0.1:9/repo';
  const rest = new Restic({
    repository: url,
    password: PASSWORD,
    env: { AWS_SECRET_ACCESS_KEY: 'aws-secret-value-1' },
  });
  await assert.rejects(rest.exists(), (err) => {
    assert.ok(isAgentError(err, 'BackupRepositoryUnreachable'), String(err));
    assertNoSecret(err, 's3cr3t-rest-pass', url, PASSWORD, 'aws-secret-value-1');
    return true;
  });
});

test('sftp repositories get an ssh command that checks the host key against env.yml', () => {
  assert.deepEqual(sftpTarget('sftp:backup@host.example:/srv/restic'), { user: 'backup', host: 'host.example' });
  assert.deepEqual(sftpTarget('sftp://u@[2001:db8::1]:2222//srv/r'), { user: 'u', host: '2001:db8::1', port: 2222 });
  assert.equal(sftpTarget('/local/path'), undefined);
  assert.equal(
    sftpCommand('sftp://backup@host.example:2222//srv/restic', '/tmp/kh'),
    'ssh -o UserKnownHostsFile=/tmp/kh -o StrictHostKeyChecking=yes -o BatchMode=yes -p 2222 -s -- backup@host.example sftp',
  );
});
