import assert from 'node:assert/strict';
import { access, rm, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runBackup } from '../../agent/backup/run-backup.ts';
import { listBackups } from '../../agent/backup/restic-snapshots.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { openPostgresSuite, type EnvInfo, type PostgresFixture } from '../../devenv/docker-env.ts';
import { pgPassword, sql, testContext, testTarget } from './helpers.ts';

const LABEL = 'backup-guards';
let env: EnvInfo;
let pgA: PostgresFixture;
let root: string;
let close: () => Promise<void>;

before(async () => ({ env, pg: pgA, root, close } = await openPostgresSuite(LABEL)));
after(() => close());

function code(err: unknown): string {
  return isAgentError(err) ? err.code : String(err);
}

test('an empty database or an empty file store is refused, and good backups stay', async () => {
  const files = path.join(root, 'files');
  await mkdir(path.join(files, 'sub'), { recursive: true });
  await writeFile(path.join(files, 'sub', 'keep.txt'), 'precious\n');
  const repo = path.join(root, 'repo');
  const target = testTarget({
    appliance: 'guarded',
    repository: repo,
    volumes: [{ name: 'files', hostPath: files }],
    pg: pgA,
    password: await pgPassword(pgA),
    policy: { keep_daily: 1, keep_weekly: 0, keep_monthly: 0 },
  });
  const ctx = testContext(target, path.join(root, 'state'), env);

  // A fresh database: no tables at all, then a table without rows.
  await assert.rejects(runBackup(ctx), (err) => code(err) === 'BackupDatabaseEmpty');
  await assert.rejects(access(repo), 'nothing was written to the repository');
  await sql(pgA, 'CREATE TABLE items (id int)');
  await assert.rejects(runBackup(ctx), (err) => {
    assert.equal(code(err), 'BackupDatabaseEmpty');
    assert.match((err as Error).message, /database app is empty.*existing backups are kept/);
    return true;
  });

  await sql(pgA, 'INSERT INTO items VALUES (1)');
  const good = await runBackup(ctx);

  // The files go: the next backup must not replace the good one (keep_daily 1 would drop it).
  await rm(path.join(files, 'sub'), { recursive: true });
  await assert.rejects(runBackup(ctx), (err) => code(err) === 'BackupFilesEmpty');

  // A configurable check: the app's own table must have rows, others do not count.
  await writeFile(path.join(files, 'back.txt'), 'back\n');
  await sql(pgA, 'CREATE TABLE important (id int)');
  await assert.rejects(
    runBackup(ctx, { nonEmptySql: 'SELECT count(*) FROM important' }),
    (err) => code(err) === 'BackupDatabaseEmpty',
  );

  const list = await listBackups(ctx);
  assert.deepEqual(
    list.map((s) => s.id.slice(0, 8)),
    [good.snapshotId.slice(0, 8)],
  );
  const status = await ctx.status.read(new Date());
  assert.equal(status.counts.succeeded, 1);
  assert.equal(status.counts.failed, 4);
  assert.equal(status.lastResult, 'failed');
  assert.equal(status.lastFailure?.code, 'BackupDatabaseEmpty');
  assert.equal(status.lastSuccess?.snapshotId, good.snapshotId);
});
