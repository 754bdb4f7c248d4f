import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DesiredState } from '../../agent/core/desired.ts';
import { isSubvolume } from '../../agent/drivers/snapshot/volume-ops.ts';
import { expireDesiredSnapshots, expireSnapshots } from '../../agent/machine/snapshot-expiry.ts';
import { loopBtrfs, type LoopBtrfs } from '../../devenv/env/btrfs.ts';
import { docker, httpRequest, publishedPort } from '../../devenv/docker-env.ts';
import { containersOf, makeStack, withDemoCommands, type Stack } from '../../devenv/engine-stack.ts';

// One stack on btrfs for the whole file: each test is the next update of the same appliance.
let fs: LoopBtrfs;
let s: Stack;
let root: string;
let uploads: string;

before(async () => {
  fs = await loopBtrfs('update-flow', '2G');
  root = path.join(fs.mount, 'data');
  await rm(root, { recursive: true, force: true });
  uploads = path.join(root, 'uploads');
  s = await makeStack('rc-update', { seedSchema: false, dataDir: path.join(root, 'postgresql') });
});
after(async () => {
  await s.cleanup();
  await fs.down();
});

/** The demo at `version`, with its migration commands and a file store mounted in web. */
function demo(version: string, options: { reverse?: boolean; restore?: string } = {}): DesiredState {
  const d = withDemoCommands(s.desired({ webImage: s.env.images[`demo:${version}`] ?? '' }), options);
  d.app.volumes.push({ name: 'uploads', kind: 'data', hostPath: uploads, backup: true });
  d.app.services.find((x) => x.name === 'web')?.mounts.push({ volume: 'uploads', target: '/uploads', readOnly: false });
  return d;
}

async function addRow(): Promise<number> {
  const port = await publishedPort(s.env, `${s.owner}-web`, 8080);
  const res = await httpRequest(`http://127.0.0.1:${port}/rows`, { method: 'POST' });
  assert.equal(res.status, 201, res.body.toString());
  return (JSON.parse(res.body.toString()) as { rows: number }).rows;
}

async function columns(): Promise<string[]> {
  const out = await docker(s.env, [
    ...['exec', `${s.owner}-postgres`, 'psql', '-U', 'demo', '-d', 'demo', '-At', '-c'],
    "select column_name from information_schema.columns where table_name = 'items' order by 1",
  ]);
  return out.stdout.trim().split('\n');
}

async function current(): Promise<{ imageRef: string; state?: string }> {
  const r = JSON.parse(await readFile(path.join(s.stateDir, 'migrations.json'), 'utf8')) as {
    current: { imageRef: string; state?: string };
  };
  return r.current;
}

test('v1: the first install migrates on btrfs subvolumes', async () => {
  const result = await s.apply(demo('v1'));
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.equal(await isSubvolume(path.join(root, 'postgresql')), true);
  assert.equal(await isSubvolume(uploads), true);
  for (let i = 0; i < 5; i++) await addRow();
  await writeFile(path.join(uploads, 'before-v2.pdf'), 'uploaded with v1\n');
  assert.deepEqual(await s.webRoot(), { version: 'v1', rows: 5 });
});

test('v1 → v2 stops web, snapshots database and files, migrates and keeps every row', async () => {
  const result = await s.apply(demo('v2'));
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.deepEqual(
    result.plan.steps.filter((st) => st.action !== 'image.pull').map((st) => st.id),
    ['container.stop:web', 'snapshot.create:PRE_MIGRATE', 'app.migrate:web', 'container.replace:web'],
  );
  assert.deepEqual(
    (result.plan.steps.find((st) => st.id === 'app.migrate:web')?.args as { pending: string[] }).pending,
    ['002_note'],
  );
  assert.deepEqual(await s.webRoot(), { version: 'v2', rows: 5 });
  assert.deepEqual(await columns(), ['created', 'id', 'note']);
  const snapshots = (await readdir(path.join(root, '.snapshots'))).filter((n) => n.startsWith('PRE_MIGRATE-'));
  assert.equal(snapshots.length, 1);
  const meta = JSON.parse(
    await readFile(path.join(root, '.snapshots', snapshots[0] ?? '', 'snapshot.json'), 'utf8'),
  ) as {
    volumes: string[];
    appImage: string;
  };
  assert.deepEqual(meta.volumes.sort(), ['pgdata', 'uploads'], 'database and files together');
  assert.equal(meta.appImage, s.env.images['demo:v1']);
  assert.deepEqual(await current(), {
    ...(await current()),
    imageRef: s.env.images['demo:v2'],
    state: '001_items\n002_note\n',
  });
  const again = await s.apply(demo('v2'));
  assert.deepEqual(again.plan.steps, []);
});

test('v2 → v3 (failing migration) restores the snapshot and runs v2 again with every row', async () => {
  assert.equal(await addRow(), 6);
  const web = await s.idOf('web');
  const result = await s.apply(demo('v3'));
  assert.equal(result.applied, false);
  assert.equal(result.error?.code, 'MigrationFailed');
  assert.equal(result.error.terminal, true, 'the revision is not retried');
  assert.match(result.error.message, /003_broken failed: division by zero/);
  assert.equal(await s.idOf('web'), web, 'the v2 container is back');
  assert.deepEqual(await s.webRoot(), { version: 'v2', rows: 6 });
  assert.deepEqual(await columns(), ['created', 'id', 'note'], 'the half-applied 003 is gone');
  assert.equal((await current()).imageRef, s.env.images['demo:v2']);
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
});

test('v2 → v4 (failing health) reverts the migration and the containers', async () => {
  const result = await s.apply(demo('v4'));
  assert.equal(result.applied, false);
  assert.equal(result.error?.code, 'HealthCheckFailed');
  assert.equal(result.error.terminal, true);
  assert.deepEqual(
    result.changeSet.filter((c) => c.outcome !== 'applied').map((c) => [c.step, c.outcome]),
    [
      ['container.stop:web', 'reverted'],
      ['app.migrate:web', 'reverted'],
      ['container.replace:web', 'failed'],
    ],
  );
  assert.deepEqual(await s.webRoot(), { version: 'v2', rows: 6 });
  assert.deepEqual(await columns(), ['created', 'id', 'note'], '004_tag was migrated, then restored away');
  assert.equal((await current()).imageRef, s.env.images['demo:v2']);
});

test("git revert v2 → v1 runs v2's reverse migrations down to v1's recorded state", async () => {
  const result = await s.apply(demo('v1'));
  assert.equal(result.applied, true, JSON.stringify(result.error));
  const reverse = result.plan.steps.find((st) => st.action === 'app.reverse-migrate');
  assert.ok(reverse !== undefined, result.plan.steps.map((st) => st.id).join(', '));
  assert.deepEqual(reverse.args, {
    service: 'web',
    image: s.env.images['demo:v2'],
    targetImage: s.env.images['demo:v1'],
    targetState: '001_items\n',
    snapshot: 'snapshot.create:PRE_MIGRATE',
  });
  assert.deepEqual(await s.webRoot(), { version: 'v1', rows: 6 });
  assert.deepEqual(await columns(), ['created', 'id']);
  assert.equal((await current()).imageRef, s.env.images['demo:v1']);
});

test('a revert without reverse migrations is refused and v2 keeps running', async () => {
  assert.equal((await s.apply(demo('v2'))).applied, true);
  const web = await s.idOf('web');
  assert.equal(await addRow(), 7);
  await writeFile(path.join(uploads, 'after-v2.pdf'), 'uploaded with v2\n');
  const result = await s.apply(demo('v1', { reverse: false }));
  assert.equal(result.applied, false);
  assert.equal(result.error?.code, 'DowngradeNeedsReverseMigration');
  assert.equal(result.error.terminal, true);
  assert.match(result.error.message, /no reverse_migrate command.*allow_snapshot_restore/);
  assert.deepEqual(
    result.plan.refused.map((r) => r.code),
    ['DowngradeNeedsReverseMigration'],
  );
  assert.equal(await s.idOf('web'), web);
  assert.deepEqual(await s.webRoot(), { version: 'v2', rows: 7 });
});

test('a snapshot named in the repo is restored for the downgrade, and the data lost is reported', async () => {
  const result = await s.apply(demo('v1', { reverse: false, restore: 'PRE_MIGRATE' }));
  assert.equal(result.applied, true, JSON.stringify(result.error));
  const restore = result.plan.steps.find((st) => st.action === 'snapshot.restore');
  assert.ok(restore !== undefined);
  assert.match(restore.reason, /loses the data written since/);
  const notice = result.notices[0];
  assert.ok(notice !== undefined);
  assert.equal(notice.code, 'SnapshotRestored');
  assert.match(notice.message, /the data written since .* \(the last \d+ s\) is lost/);
  // The snapshot was taken before the last v1 → v2 update: row 7 and the v2 upload are lost.
  assert.deepEqual(await s.webRoot(), { version: 'v1', rows: 6 });
  assert.deepEqual((await readdir(uploads)).sort(), ['before-v2.pdf']);
  assert.deepEqual(await columns(), ['created', 'id']);
  const again = await s.apply(demo('v1', { reverse: false, restore: 'PRE_MIGRATE' }));
  assert.equal(again.applied, true);
  assert.deepEqual(again.plan.steps, [], 'restored once: nothing more to do');
});

test('PRE_MIGRATE snapshots expire after the configured days; one gone already is fine', async () => {
  const machine = s.machine(demo('v1'));
  const before = (await readdir(path.join(root, '.snapshots'))).filter((n) => !n.startsWith('.')).sort();
  assert.ok(before.length >= 4, before.join(', '));
  const listed = (await machine.observe(s.owner)).storage?.snapshots ?? [];
  assert.equal(listed.length, before.length);
  const soon = await expireDesiredSnapshots(demo('v1'), new Date(Date.now() + 6 * 24 * 3600_000), s.log);
  assert.deepEqual(soon.deleted, [], 'nothing expires before 7 days');
  const snaps = await machine.snapshotsAt(root);
  assert.equal(await snaps.delete(before[0] ?? ''), true, 'one deleted by hand');
  const result = await expireSnapshots({
    snapshots: snaps,
    desired: demo('v1'),
    now: new Date(Date.now() + 8 * 24 * 3600_000),
    log: s.log,
    listed,
  });
  assert.deepEqual(result.missing, [before[0]]);
  assert.deepEqual(result.deleted.sort(), before.slice(1));
  assert.deepEqual(result.failed, []);
  assert.deepEqual(
    (await readdir(path.join(root, '.snapshots'))).filter((n) => !n.startsWith('.')),
    [],
  );
  assert.deepEqual(await s.webRoot(), { version: 'v1', rows: 6 });
});
