import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { loadDesired } from '../../agent/config/load.ts';
import { decryptEnvFromIdentityFile } from '../../agent/config/decrypt-env.ts';
import { validateRepo } from '../../agent/config/validate-repo.ts';
import { refMatches, reviewHeads } from '../../agent/core/review-refs.ts';
import { tempDir } from '../../devenv/git-repo.ts';

const root = join(import.meta.dirname, '..', '..');

async function fleetWith(preflight: string, appEdit?: [string, string]): Promise<string> {
  const dir = await tempDir();
  await cp(join(root, 'example-config-repo'), dir, { recursive: true });
  const file = join(dir, 'appliances/demo/appliance.yml');
  await writeFile(file, `${await readFile(file, 'utf8')}preflight:\n${preflight}`);
  if (appEdit !== undefined) {
    const app = join(dir, 'apps/demo/app.yml');
    const text = await readFile(app, 'utf8');
    assert.ok(text.includes(appEdit[0]));
    await writeFile(app, text.replace(appEdit[0], appEdit[1]));
  }
  return dir;
}

const issues = async (dir: string) => {
  const r = await validateRepo(dirRepoReader(dir), { names: ['demo'] });
  return {
    errors: r.errors.map((e) => `${e.path}: ${e.message}`),
    warnings: r.warnings.map((w) => `${w.path}: ${w.message}`),
  };
};

test('preflight refs reach the desired state; without a forge the results are said to reach no commit', async () => {
  const dir = await fleetWith('  refs: [refs/pull/*/head, refs/merge-requests/*/head, refs/heads/preflight/*]\n');
  const r = await issues(dir);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    '/preflight: appliances/demo/env.yml has no forge section: pre-flight results are posted to no commit, only logged and shown in /status',
  ]);
  const { decrypt } = await decryptEnvFromIdentityFile(join(root, 'test/fixtures/keys/demo.agekey'));
  const loaded = await loadDesired(dirRepoReader(dir), 'demo', { decrypt, revision: 'r1' });
  assert.ok(loaded.ok);
  assert.deepEqual(loaded.value.preflight?.refs, [
    'refs/pull/*/head',
    'refs/merge-requests/*/head',
    'refs/heads/preflight/*',
  ]);
});

test('bad patterns are errors with file and path', async () => {
  const r = await issues(
    await fleetWith('  refs: [refs/appliances/*/status, pull/*/head, refs/pull/*/head, refs/a//b]\n'),
  );
  assert.deepEqual(r.errors, [
    '/preflight/refs/0: must be a ref pattern like refs/pull/*/head',
    '/preflight/refs/1: must be a ref pattern like refs/pull/*/head',
    '/preflight/refs/3: must be a ref pattern like refs/pull/*/head',
  ]);
  const stars = await issues(await fleetWith('  refs: [refs/**/head]\n'));
  assert.deepEqual(stars.errors, ["/preflight/refs/0: '**' is not a pattern here: a * matches inside one segment"]);
  assert.deepEqual((await issues(await fleetWith('  refs: []\n'))).errors.length, 1, 'an empty list is refused');
});

test('an app without a smoke test is warned about, one without snapshot support refused', async () => {
  const noSmoke = await issues(
    await fleetWith('  refs: [refs/pull/*/head]\n', [
      '  smoke_test:\n    service: web\n    command: [smoke]\n    timeout_seconds: 120\n',
      '',
    ]),
  );
  assert.ok(
    noSmoke.warnings.includes(
      "/preflight: app 'demo' (apps/demo/app.yml) has no smoke_test command: a pre-flight is judged by its migrations and health checks alone",
    ),
    noSmoke.warnings.join('\n'),
  );
  const noData = await issues(
    await fleetWith('  refs: [refs/pull/*/head]\n', ['    kind: database\n', '    kind: volatile\n']),
  );
  assert.ok(
    noData.errors.some((e) => e.startsWith('/preflight: pre-flight runs on a clone and needs snapshot support')),
    noData.errors.join('\n'),
  );
});

test('a * matches inside one segment, never across a /', () => {
  assert.ok(refMatches('refs/pull/*/head', 'refs/pull/17/head'));
  assert.ok(!refMatches('refs/pull/*/head', 'refs/pull/17/merge'));
  assert.ok(!refMatches('refs/pull/*/head', 'refs/pull/1/7/head'));
  assert.ok(refMatches('refs/heads/preflight/*', 'refs/heads/preflight/v2'));
  assert.ok(!refMatches('refs/heads/preflight/*', 'refs/heads/preflight/a/b'));
  assert.ok(refMatches('refs/heads/pf-*-x', 'refs/heads/pf-12-x'));
  assert.ok(!refMatches('refs/heads/pf-*-x', 'refs/heads/pf-x'));
  const heads = reviewHeads(
    ['refs/pull/*/head'],
    [
      { ref: 'refs/pull/2/head', oid: 'b' },
      { ref: 'refs/pull/1/head', oid: 'a' },
      { ref: 'refs/pull/3/head', oid: 'a' },
      { ref: 'refs/heads/main', oid: 'm' },
    ],
  );
  assert.deepEqual(heads, [
    { ref: 'refs/pull/1/head', oid: 'a' },
    { ref: 'refs/pull/2/head', oid: 'b' },
  ]);
});
