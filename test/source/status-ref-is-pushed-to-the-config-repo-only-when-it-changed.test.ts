import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { initialStatus, cycleFinished } from '../../agent/core/status.ts';
import { reportOf } from '../../agent/core/reported-state.ts';
import { StatusRefReporter } from '../../agent/engine/status-ref-reporter.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { SecretRegistry } from '../../agent/lib/secrets.ts';
import { openLocalRepo } from '../../agent/source/local-repo.ts';
import { statusRefPusher } from '../../agent/source/status-ref-push.ts';
import type { GitServer } from '../../devenv/git-server.ts';
import { git, tempDir } from '../../devenv/git-repo.ts';
import { servedExampleRepo } from '../../devenv/served-example.ts';

const AUTH = { username: 'agent', password: 'push-token-of-the-agent' };

function served(allowPush: boolean): Promise<{ server: GitServer; work: string; head: string }> {
  return servedExampleRepo({ auth: AUTH, allowPush });
}

test('the agent keeps refs/appliances/<name>/status: a commit with status.json, pushed when it changed, no secret', async (t) => {
  const { server, work, head } = await served(true);
  t.after(() => server.stop());
  const secrets = new SecretRegistry();
  const secret = 'database-password-in-an-error-message';
  secrets.add(secret, AUTH.password);
  const lines: string[] = [];
  const log = createLogger({
    level: 'debug',
    secrets,
    destination: new Writable({
      write(c: Buffer, _e, done) {
        lines.push(c.toString());
        done();
      },
    }),
  });
  const gitdir = join(await tempDir(), 'status-ref');
  const pusher = statusRefPusher({ url: server.url('fleet.git'), auth: AUTH, gitdir, secrets });
  const reporter = new StatusRefReporter({
    log,
    push: (r) => pusher.push(r),
    build: (s) =>
      Promise.resolve(
        reportOf({
          status: secrets.scrubDeep(s),
          agentVersion: '0.1.0',
          now: new Date(),
          migration: { current: { imageRef: '127.0.0.1:5000/demo:v1', state: '1' }, images: [] },
        }),
      ),
  });
  const t0 = new Date('2024-01-01T00:00:00Z');
  const applied = cycleFinished(initialStatus('demo', t0), { kind: 'applied', revision: head, steps: 4 }, t0, t0);
  server.resetCounts();
  reporter.cycleFinished(applied);
  await reporter.idle();
  assert.equal(server.counts().receivePack, 1);
  // Later cycles that change nothing but the time: nothing is pushed.
  const t1 = new Date('2024-01-01T00:05:00Z');
  reporter.cycleFinished(cycleFinished(applied, { kind: 'unchanged', revision: head }, t1, t1));
  await reporter.idle();
  assert.equal(server.counts().receivePack, 1, 'an unchanged state is not pushed again');
  // A failure (whose message held a secret) is a change: pushed, and the secret is not in it.
  const failed = cycleFinished(
    applied,
    {
      kind: 'failed',
      revision: head,
      reason: 'DockerUnavailable',
      code: 'DockerUnavailable',
      message: `cannot connect with ${secret}`,
    },
    t1,
    t1,
  );
  reporter.cycleFinished(failed);
  await reporter.idle();
  assert.equal(server.counts().receivePack, 2);
  // The local scratch repo holds only the last report's three objects (commit, tree, blob).
  const objects = await readdir(join(gitdir, 'objects'), { recursive: true, withFileTypes: true });
  assert.equal(objects.filter((e) => e.isFile()).length, 3, 'no objects of earlier reports pile up');

  await git(work, [
    'fetch',
    '-q',
    server.url('fleet.git').replace('http://', `http://${AUTH.username}:${AUTH.password}@`),
    '+refs/appliances/*:refs/appliances/*',
  ]);
  const text = await git(work, ['show', 'refs/appliances/demo/status:status.json']);
  assert.ok(!text.includes(secret), 'no secret in the status ref');
  assert.ok(!lines.join('').includes(AUTH.password), 'the push credentials are never logged');
  const found = await (await openLocalRepo(work)).report('demo');
  assert.ok(found !== undefined);
  assert.equal(found.state.lastAppliedRevision, head);
  assert.equal(found.state.lastError?.code, 'DockerUnavailable');
  assert.equal(found.state.migration?.current?.imageRef, '127.0.0.1:5000/demo:v1');
  assert.deepEqual(
    found.state.conditions.map((c) => [c.type, c.status]),
    [
      ['Ready', false],
      ['Stalled', false],
    ],
  );
  assert.equal(
    await git(work, ['rev-list', '--count', 'refs/appliances/demo/status']),
    '1',
    'a current state, not a history',
  );
});

test('a repo that refuses the push: logged once, retried, and nothing waits on it', async (t) => {
  const { server, head } = await served(true);
  t.after(() => server.stop());
  // Read-only credentials: the forge answers the push with 403.
  server.setFault({ kind: 'status', status: 403, kinds: ['receivePackAdvertisement', 'receivePack'] });
  const lines: string[] = [];
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(c: Buffer, _e, done) {
        lines.push(c.toString());
        done();
      },
    }),
  });
  const secrets = new SecretRegistry();
  const gitdir = join(await tempDir(), 'status-ref');
  const pusher = statusRefPusher({ url: server.url('fleet.git'), auth: AUTH, gitdir, secrets });
  const reporter = new StatusRefReporter({
    log,
    push: (r) => pusher.push(r),
    build: (s) => Promise.resolve(reportOf({ status: s, agentVersion: '0.1.0', now: new Date() })),
    baseDelayMs: 30,
    maxDelayMs: 60,
  });
  const t0 = new Date();
  const started = Date.now();
  reporter.cycleFinished(
    cycleFinished(initialStatus('demo', t0), { kind: 'applied', revision: head, steps: 1 }, t0, t0),
  );
  assert.ok(Date.now() - started < 50, 'cycleFinished returns at once');
  await new Promise((resolve) => setTimeout(resolve, 400));
  await reporter.settled();
  const warns = lines.filter((l) => l.includes('"level":"warn"'));
  assert.equal(warns.length, 1, warns.join(''));
  assert.match(warns[0] ?? '', /SourceAuthFailed/);
  assert.ok(server.counts().receivePackAdvertisement >= 2, 'retried');
  reporter.queue.stop();
});
