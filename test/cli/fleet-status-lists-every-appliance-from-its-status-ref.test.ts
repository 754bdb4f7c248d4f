import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { runFleetStatus } from '../../agent/cli/fleet.ts';
import { reportOf } from '../../agent/core/reported-state.ts';
import { cycleFinished, initialStatus } from '../../agent/core/status.ts';
import { SecretRegistry } from '../../agent/lib/secrets.ts';
import { statusRefPusher } from '../../agent/source/status-ref-push.ts';
import { git, tempDir } from '../../devenv/git-repo.ts';
import { servedExampleRepo } from '../../devenv/served-example.ts';
import { assertGolden, captureIo } from './golden.ts';

test('fleet status lists two appliances from the status refs they pushed, and one that never reported', async (t) => {
  const { server, work, head } = await servedExampleRepo({ allowPush: true });
  t.after(() => server.stop());

  const t0 = new Date('2024-03-01T10:00:00Z');
  const t1 = new Date('2024-03-01T11:00:00Z');
  const demo = cycleFinished(initialStatus('demo', t0), { kind: 'applied', revision: head, steps: 5 }, t0, t0);
  const ecs = cycleFinished(
    cycleFinished(initialStatus('ecs-prod', t0), { kind: 'applied', revision: head, steps: 9 }, t0, t0),
    {
      kind: 'stalled',
      revision: 'c'.repeat(40),
      reason: 'DowngradeNeedsReverseMigration',
      code: 'DowngradeNeedsReverseMigration',
      message: 'downgrade to 127.0.0.1:5000/ecs:2021.05.20: the app defines no reverse_migrate command',
    },
    t1,
    t1,
  );
  const images = (name: string): Record<string, string> =>
    name === 'demo'
      ? { postgres: '127.0.0.1:5000/postgres:15', web: '127.0.0.1:5000/demo:v1' }
      : { postgres: '127.0.0.1:5000/postgres:15', web: '127.0.0.1:5000/ecs:2021.06.01' };
  for (const [status, at, backup] of [
    [demo, t0, '2024-03-01T06:00:00Z'],
    [ecs, t1, undefined],
  ] as const) {
    const pusher = statusRefPusher({
      url: server.url('fleet.git'),
      gitdir: join(await tempDir(), 'status-ref'),
      secrets: new SecretRegistry(),
    });
    const report = reportOf({
      status,
      agentVersion: '0.1.0',
      now: at,
      ...(backup === undefined ? {} : { lastBackup: { at: backup, snapshotId: 'abc123' } }),
    });
    await pusher.push({ ...report, images: images(status.appliance) });
  }
  // A third appliance in the repo that never reported.
  await cp(join(work, 'appliances/demo'), join(work, 'appliances/staging'), { recursive: true });
  await git(work, ['add', '-A']);
  await git(work, ['commit', '-q', '-m', 'staging']);
  await git(work, ['fetch', '-q', server.url('fleet.git'), '+refs/appliances/*:refs/appliances/*']);

  const io = captureIo();
  await runFleetStatus({ repo: work }, io, new Date('2024-03-01T12:30:00Z'));
  assert.equal(io.code, 0, io.err);
  await assertGolden('fleet-status.txt', io.out.replaceAll(head.slice(0, 12), '<head>'));
  assert.match(io.out, /^demo +<?[0-9a-f]{12} +yes +6 h 30 min ago +0\.1\.0 +2 h 30 min ago$/m);
  assert.match(io.out, /^ecs-prod .* no \(DowngradeNeedsReverseMigration\) +never/m);
  assert.match(io.out, /^staging +- +- +- +- +never$/m);

  const json = captureIo();
  await runFleetStatus({ repo: work, json: true }, json);
  const entries = JSON.parse(json.out) as { name: string; report?: { lastAppliedRevision?: string } }[];
  assert.deepEqual(
    entries.map((e) => [e.name, e.report?.lastAppliedRevision]),
    [
      ['demo', head],
      ['ecs-prod', head],
      ['staging', undefined],
    ],
  );
});
