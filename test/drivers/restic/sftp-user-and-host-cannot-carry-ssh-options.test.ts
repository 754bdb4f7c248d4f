import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { isAgentError } from '../../../agent/core/errors.ts';
import { Restic } from '../../../agent/drivers/restic/restic.ts';
import { sftpCommand, sftpTarget } from '../../../agent/drivers/restic/sftp.ts';

const HOSTILE = [
  'sftp:-oProxyCommand=touch${IFS}pwned@host:/srv/r',
  'sftp:backup@-oProxyCommand=touch${IFS}pwned:/srv/r',
  'sftp://-oProxyCommand=x@host//srv/r',
  'sftp://backup@-oProxyCommand=x//srv/r',
  'sftp:bad user@host:/srv/r',
  'sftp:backup@[::1 -oX]:/srv/r',
];

test('an sftp user or host that is not plain is refused', () => {
  for (const repo of HOSTILE) assert.equal(sftpTarget(repo), undefined, repo);
  assert.deepEqual(sftpTarget('sftp:backup@[2001:db8::1]:/srv/r'), { user: 'backup', host: '2001:db8::1' });
  assert.deepEqual(sftpTarget('sftp:host.example:/srv/r'), { host: 'host.example' });
});

test('the ssh command ends its options with -- before the destination', () => {
  assert.equal(
    sftpCommand('sftp:backup@host.example:/srv/restic', '/tmp/kh'),
    'ssh -o UserKnownHostsFile=/tmp/kh -o StrictHostKeyChecking=yes -o BatchMode=yes -s -- backup@host.example sftp',
  );
});

test('restic is not run for such a repository, with or without known hosts', async () => {
  for (const knownHosts of [
    undefined,
    ['host ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'],
  ]) {
    const restic = new Restic({
      repository: HOSTILE[0] ?? '',
      password: 'hunter2-correct-horse-battery',
      ...(knownHosts === undefined ? {} : { knownHosts }),
    });
    await assert.rejects(restic.exists(), (err) => {
      assert.ok(isAgentError(err, 'BackupRepositoryInvalid'), String(err));
      assert.doesNotMatch((err as Error).message, /ProxyCommand/);
      return true;
    });
  }
});

test("env.yml's schema refuses such a repository", async () => {
  const schema = JSON.parse(await readFile('schema/env.schema.json', 'utf8')) as {
    properties: { backup: { properties: { repository: { pattern: string } } } };
  };
  const pattern = new RegExp(schema.properties.backup.properties.repository.pattern, 'u');
  for (const repo of HOSTILE) assert.doesNotMatch(repo, pattern);
  for (const repo of [
    'sftp:backup@backup.example.net:/srv/restic',
    'sftp://backup@host.example:2222//srv/r',
    'sftp:u@[2001:db8::1]:/srv/r',
    '/srv/restic',
    's3:https://s3.example/bucket',
  ])
    assert.match(repo, pattern);
});
