import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runReview } from '../../agent/cli/review.ts';
import type { ReportedState } from '../../agent/core/reported-state.ts';
import { editEnv } from '../../devenv/edit-env.ts';
import { git, tempDir } from '../../devenv/git-repo.ts';
import { assertGolden, captureIo } from './golden.ts';

const root = join(import.meta.dirname, '..', '..');
const operatorKey = join(root, 'test/fixtures/keys/operator.agekey');

/** A checkout of the example fleet with one commit; `commit` adds more. */
async function fleet(): Promise<{ dir: string; commit: (message: string) => Promise<string> }> {
  const dir = await tempDir();
  await cp(join(root, 'example-config-repo'), dir, { recursive: true });
  await git(dir, ['init', '-q', '-b', 'main']);
  const commit = async (message: string): Promise<string> => {
    await git(dir, ['add', '-A']);
    await git(dir, ['commit', '-q', '--allow-empty', '-m', message]);
    return git(dir, ['rev-parse', 'HEAD']);
  };
  await commit('example fleet');
  return { dir, commit };
}

async function edit(dir: string, file: string, from: string, to: string): Promise<void> {
  const path = join(dir, file);
  const text = await readFile(path, 'utf8');
  assert.ok(text.includes(from), `${file} has ${from}`);
  await writeFile(path, text.replaceAll(from, to));
}

/** Writes refs/appliances/<name>/status as an agent would: a commit whose tree holds status.json. */
async function reportStatus(dir: string, report: Partial<ReportedState> & { appliance: string }): Promise<void> {
  const doc: ReportedState = {
    format: 1,
    reportedAt: '2024-01-02T03:04:05.000Z',
    agentVersion: '0.1.0',
    conditions: [],
    images: {},
    snapshots: [],
    ...report,
  };
  const blob = await git(dir, ['hash-object', '-w', '--stdin'], { input: JSON.stringify(doc) });
  const tree = await git(dir, ['mktree'], { input: `100644 blob ${blob}\tstatus.json\n` });
  const commit = await git(dir, ['commit-tree', tree, '-m', `status of ${report.appliance}`]);
  await git(dir, ['update-ref', `refs/appliances/${report.appliance}/status`, commit]);
}

/** Commit ids replaced by names, so golden files do not depend on them. */
function named(text: string, ids: Record<string, string>): string {
  let out = text;
  for (const [name, id] of Object.entries(ids))
    out = out.replaceAll(id, `<${name}>`).replaceAll(id.slice(0, 12), `<${name}>`);
  return out;
}

test('an image bump on an appliance without a status ref is planned from an empty machine', async () => {
  const { dir, commit } = await fleet();
  const base = await git(dir, ['rev-parse', 'HEAD']);
  await edit(dir, 'appliances/demo/appliance.yml', 'demo:v1', 'demo:v2');
  const head = await commit('demo: v2');
  const io = captureIo();
  await runReview({ repo: dir, base: 'HEAD~1', head: 'main' }, io);
  assert.equal(io.code, 0, io.err);
  assert.match(io.out, /Predicted against an empty machine \(no status reported by this appliance\)/);
  assert.doesNotMatch(io.out, /ecs-prod/, 'an appliance the change does not touch is not reviewed');
  await assertGolden('review-first-install.md', named(io.out, { base, head }));
});

test('an update against the reported state shows replaced containers, the migration and changed keys', async () => {
  const { dir, commit } = await fleet();
  const base = await git(dir, ['rev-parse', 'HEAD']);
  await reportStatus(dir, {
    appliance: 'demo',
    lastAppliedRevision: base,
    images: { web: '127.0.0.1:5000/demo:v1', postgres: '127.0.0.1:5000/postgres:15' },
    migration: { current: { imageRef: '127.0.0.1:5000/demo:v1', state: '1' }, known: [] },
  });
  await edit(dir, 'appliances/demo/appliance.yml', 'demo:v1', 'demo:v2');
  await edit(dir, 'appliances/demo/appliance.yml', 'keep_daily: 3', 'keep_daily: 5');
  const password = 'review-must-never-show-this-password';
  await editEnv(join(dir, 'appliances/demo/env.yml'), operatorKey, (doc) => {
    doc.setIn(['app', 'settings', 'DEMO_GREETING'], 'Hello from review');
    doc.setIn(['app', 'secrets', 'DATABASE_PASSWORD'], password);
  });
  const head = await commit('demo: v2, a new greeting and password');

  const keyed = captureIo();
  await runReview({ repo: dir, base, head, identity: operatorKey }, keyed);
  assert.equal(keyed.code, 0, keyed.err);
  const keyless = captureIo();
  await runReview({ repo: dir, base, head }, keyless);
  assert.equal(keyless.code, 0, keyless.err);
  for (const out of [keyed.out, keyless.out]) {
    assert.ok(!out.includes(password), 'a secret value is never shown');
    assert.match(out, /\/app\/secrets\/DATABASE_PASSWORD<\/code> \| secret changed \(value not shown\)/);
    assert.match(out, /Containers replaced: postgres, web/);
    assert.match(out, /Migration: database migration, PRE_MIGRATE snapshot first/);
    assert.match(out, /Downtime: web stopped/);
  }
  assert.match(keyed.out, /DEMO_GREETING<\/code> \| changed: <code>"Hello/);
  assert.match(keyless.out, /DEMO_GREETING<\/code> \| changed \(encrypted\)/);
  await assertGolden('review-update-decrypted.md', named(keyed.out, { base, head }));
  await assertGolden('review-update-keyless.md', named(keyless.out, { base, head }));

  const json = captureIo();
  await runReview({ repo: dir, base, head, format: 'json' }, json);
  const parsed = JSON.parse(json.out) as { ok: boolean; appliances: { name: string; verdict: string }[] };
  assert.deepEqual(
    parsed.appliances.map((a) => [a.name, a.verdict]),
    [['demo', 'changes']],
  );
});

test('downgrades: reverse migrations where the app has them, refused where not (exit 1)', async () => {
  const { dir, commit } = await fleet();
  const old = await git(dir, ['rev-parse', 'HEAD']);
  await edit(dir, 'appliances/demo/appliance.yml', 'demo:v1', 'demo:v2');
  await edit(dir, 'appliances/ecs-prod/appliance.yml', 'ecs:2021.05.20', 'ecs:2021.06.01');
  const base = await commit('demo v2, ecs 2021.06.01');
  for (const [appliance, from, to] of [
    ['demo', '127.0.0.1:5000/demo:v1', '127.0.0.1:5000/demo:v2'],
    ['ecs-prod', '127.0.0.1:5000/ecs:2021.05.20', '127.0.0.1:5000/ecs:2021.06.01'],
  ] as const) {
    await reportStatus(dir, {
      appliance,
      lastAppliedRevision: base,
      migration: {
        current: { imageRef: to, state: 'state-of-new' },
        known: [{ imageRef: from, state: 'state-of-old' }],
      },
    });
  }
  await git(dir, ['revert', '--no-edit', 'HEAD']);
  const head = await git(dir, ['rev-parse', 'HEAD']);

  const io = captureIo();
  await runReview({ repo: dir, base, head }, io);
  assert.equal(io.code, 1, io.err);
  assert.match(io.out, /\| demo \|.*\| ✅ changes \|/);
  assert.match(io.out, /\| ecs-prod \|.*\| ❌ refused \|/);
  assert.match(
    io.out,
    /migrate back database with 127\.0\.0\.1:5000\/demo:v2 back to the state of 127\.0\.0\.1:5000\/demo:v1/,
  );
  assert.match(io.out, /\*\*Refused\*\*: DowngradeNeedsReverseMigration/);
  await assertGolden('review-downgrades.md', named(io.out, { old, base, head }));
});

test('a head with schema errors lists them per file and exits 1 without a plan', async () => {
  const { dir, commit } = await fleet();
  const base = await git(dir, ['rev-parse', 'HEAD']);
  await edit(dir, 'appliances/demo/appliance.yml', 'timezone: UTC', 'timezone: 42\nflavour: strawberry');
  await edit(
    dir,
    'apps/demo/app.yml',
    'interval_seconds: 5\n      retries: 10',
    'interval_seconds: soon\n      retries: 10',
  );
  const head = await commit('broken');
  const io = captureIo();
  await runReview({ repo: dir, base, head }, io);
  assert.equal(io.code, 1);
  assert.match(io.out, /appliances\/demo\/appliance\.yml: \/flavour/);
  assert.match(io.out, /apps\/demo\/app\.yml: \/services\/postgres\/healthcheck\/interval_seconds/);
  assert.match(io.out, /No plan: the configuration at the head revision is invalid/);
  await assertGolden('review-schema-errors.md', named(io.out, { base, head }));
});

test('an unknown revision exits 1 with a message', async () => {
  const { dir } = await fleet();
  const io = captureIo();
  await runReview({ repo: dir, base: 'HEAD~5', head: 'HEAD' }, io);
  assert.equal(io.code, 1);
  assert.match(io.err, /HEAD has fewer than 5 parents/);
});

test('a change of an app definition reviews the appliances that use it, and only those', async () => {
  const { dir, commit } = await fleet();
  const base = await git(dir, ['rev-parse', 'HEAD']);
  await edit(dir, 'apps/demo/app.yml', 'retries: 10', 'retries: 12');
  const head = await commit('demo app: more retries');
  const io = captureIo();
  await runReview({ repo: dir, base, head, format: 'json' }, io);
  assert.equal(io.code, 0, io.err);
  const report = JSON.parse(io.out) as {
    appliances: { name: string; settings: { file: string; path: string; from?: string; to?: string }[] }[];
  };
  assert.deepEqual(
    report.appliances.map((a) => a.name),
    ['demo'],
  );
  assert.deepEqual(report.appliances[0]?.settings, [
    {
      change: 'changed',
      file: 'apps/demo/app.yml',
      from: '10',
      path: '/services/postgres/healthcheck/retries',
      secret: false,
      to: '12',
    },
  ]);
});

test('a downgrade allowed to restore a snapshot is predicted from the snapshots the appliance reported', async () => {
  const { dir, commit } = await fleet();
  await edit(
    dir,
    'appliances/ecs-prod/appliance.yml',
    'allow_snapshot_restore: null',
    'allow_snapshot_restore: PRE_MIGRATE',
  );
  await commit('ecs: allow restoring PRE_MIGRATE');
  await edit(dir, 'appliances/ecs-prod/appliance.yml', 'ecs:2021.05.20', 'ecs:2021.06.01');
  const base = await commit('ecs 2021.06.01');
  const report = {
    appliance: 'ecs-prod',
    lastAppliedRevision: base,
    migration: {
      current: { imageRef: '127.0.0.1:5000/ecs:2021.06.01' },
      known: [{ imageRef: '127.0.0.1:5000/ecs:2021.05.20' }],
    },
  };
  await reportStatus(dir, report);
  await git(dir, ['revert', '--no-edit', 'HEAD']);
  const head = await git(dir, ['rev-parse', 'HEAD']);

  const without = captureIo();
  await runReview({ repo: dir, base, head }, without);
  assert.equal(without.code, 1, 'no such snapshot reported: refused');
  assert.match(without.out, /SnapshotNotFound/);

  await reportStatus(dir, {
    ...report,
    snapshots: [
      {
        name: 'PRE_MIGRATE-20240101T000000Z',
        kind: 'PRE_MIGRATE',
        createdAt: '2024-01-01T00:00:00.000Z',
        appImage: '127.0.0.1:5000/ecs:2021.05.20',
      },
    ],
  });
  const io = captureIo();
  await runReview({ repo: dir, base, head }, io);
  assert.equal(io.code, 0, io.out);
  assert.match(io.out, /Migration: snapshot restore \(downgrade\)/);
  assert.match(io.out, /restoring PRE_MIGRATE-20240101T000000Z loses the data written since 2024-01-01T00:00:00.000Z/);
});
