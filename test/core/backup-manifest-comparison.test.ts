import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareFiles, compareTables, manifestProblem, type FileEntry } from '../../agent/core/backup-manifest.ts';
import { backupTargetOf } from '../../agent/core/backup-target.ts';
import type { EnvConfig, Policies, Schedules } from '../../agent/core/config-types.gen.ts';
import { desiredState, service } from '../../devenv/desired-builder.ts';

test('tables: equal stats match; a changed sum, a missing and an extra table are reported', () => {
  const recorded = [
    { table: 'public.a', rows: 2, sum: '10' },
    { table: 'public.b', rows: 1, sum: '5' },
  ];
  assert.deepEqual(compareTables(recorded, [...recorded].reverse()), []);
  const found = compareTables(recorded, [
    { table: 'public.a', rows: 2, sum: '11' },
    { table: 'public.c', rows: 0, sum: '0' },
  ]);
  assert.deepEqual(
    found.map((m) => [m.name, m.actual]),
    [
      ['public.a', '2 rows, sum 11'],
      ['public.b', 'missing'],
      ['public.c', '0 rows, sum 0'],
    ],
  );
});

test('files: content, size, link-ness and presence all count', () => {
  const f = (p: string, sha: string, extra: Partial<FileEntry> = {}): FileEntry => ({
    volume: 'v',
    path: p,
    size: 3,
    sha256: sha,
    ...extra,
  });
  const recorded = [f('a', 'aa'), f('b', 'bb'), f('l', 'cc', { link: true })];
  assert.deepEqual(compareFiles(recorded, recorded), []);
  const found = compareFiles(recorded, [f('a', 'ab'), f('l', 'cc'), f('new', 'dd')]);
  assert.deepEqual(
    found.map((m) => m.name),
    ['v/a', 'v/b', 'v/l', 'v/new'],
  );
  assert.equal(manifestProblem({ format: 2 }), 'unknown format 2');
  assert.equal(manifestProblem({ format: 1, volumes: [], files: [] }), undefined);
});

test('the target takes data volumes marked for backup and the database container by owner and service', () => {
  const desired = desiredState({
    name: 'shop',
    services: [service({ name: 'db', role: 'database', image: 'pg' }), service({ name: 'web', image: 'web' })],
    volumes: [
      { name: 'uploads', kind: 'data', hostPath: '/data/uploads', backup: true },
      { name: 'cache', kind: 'data', hostPath: '/data/cache', backup: false },
      { name: 'pgdata', kind: 'database', hostPath: '/data/pg', backup: false },
    ],
  });
  desired.app.database = { service: 'db', name: 'shop', user: 'shop', password: { value: 'pw-secret', secret: true } };
  desired.site = {
    backup: { repository: '/backup/repo', password: 'a-long-password', env: {} },
    recover_from_backup: true,
  } as unknown as EnvConfig;
  desired.policies = { backup: { keep_daily: 1, keep_weekly: 2, keep_monthly: 3, max_age_hours: 4 } } as Policies;
  desired.schedules = {
    backup: '0 1 * * *',
    backup_prune: null,
    backup_check: null,
    restore_test: '0 2 * * *',
  } as Schedules;
  const t = backupTargetOf(desired);
  assert.deepEqual(t.volumes, [{ name: 'uploads', hostPath: '/data/uploads' }]);
  assert.deepEqual(t.database, { container: 'shop-db', name: 'shop', user: 'shop', password: 'pw-secret' });
  assert.equal(t.repository?.repository, '/backup/repo');
  assert.deepEqual(t.schedules, { backup: '0 1 * * *', prune: null, check: null, restoreTest: '0 2 * * *' });
  assert.equal(t.recoverFromBackup, true);
  assert.equal(t.recoverFromDump, undefined);
});
