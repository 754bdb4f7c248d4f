import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { restoreBackup } from '../../agent/backup/restore.ts';
import { runBackup } from '../../agent/backup/run-backup.ts';
import { listBackups } from '../../agent/backup/restic-snapshots.ts';
import { restoreTest } from '../../agent/backup/verify.ts';
import { openPostgresSuite, type EnvInfo, type PostgresFixture } from '../../devenv/docker-env.ts';
import {
  databaseDigest,
  pgPassword,
  seedDatabase,
  seedFiles,
  sql,
  testContext,
  testTarget,
  treeDigest,
} from './helpers.ts';

const LABEL = 'backup-restore';
let env: EnvInfo;
let pgA: PostgresFixture;
let root: string;
let close: () => Promise<void>;

before(async () => ({ env, pg: pgA, root, close } = await openPostgresSuite(LABEL)));
after(() => close());

test('backup, change everything, restore: files byte-identical and every table equal', async () => {
  const files = path.join(root, 'data', 'files');
  const uploads = path.join(root, 'data', 'uploads');
  await seedFiles(files);
  await mkdir(uploads, { recursive: true });
  await writeFile(path.join(uploads, 'u1'), 'upload one\n');
  await symlink('u1', path.join(uploads, 'latest'));
  await seedDatabase(pgA);

  const target = testTarget({
    appliance: 'alpha',
    repository: path.join(root, 'repo'),
    volumes: [
      { name: 'files', hostPath: files },
      { name: 'uploads', hostPath: uploads },
    ],
    pg: pgA,
    password: await pgPassword(pgA),
  });
  const ctx = testContext(target, path.join(root, 'state'), env);
  const filesBefore = await treeDigest(files);
  const uploadsBefore = await treeDigest(uploads);
  const dbBefore = await databaseDigest(pgA);

  const phases: string[] = [];
  const first = await runBackup(ctx, {
    envYml: 'backup: ENC[AES256_GCM,data:xyz]\n',
    prune: true,
    onPhase: (p) => phases.push(p),
  });
  assert.deepEqual(phases, ['checks', 'scan', 'dump', 'upload', 'retention']);
  assert.match(first.snapshotId, /^[0-9a-f]{8,}$/);
  assert.ok(first.bytesAdded > 0);

  // Change files (edit, delete, add, replace a dir) and the database (rows, a new table, a dropped one).
  await writeFile(path.join(files, 'docs', 'a.txt'), 'changed\n');
  await rm(path.join(files, 'docs', '2024'), { recursive: true });
  await writeFile(path.join(files, 'new.txt'), 'added after the backup\n');
  await rm(path.join(uploads, 'latest'));
  await sql(
    pgA,
    `DELETE FROM documents WHERE id % 3 = 0; UPDATE "Mixed Case" SET v = '{}';
     CREATE TABLE later (x int); INSERT INTO later VALUES (1); DROP TABLE documents CASCADE;`,
  );
  assert.notDeepEqual(await databaseDigest(pgA), dbBefore);

  const app = { stops: 0, starts: 0 };
  const result = await restoreBackup(ctx, {
    app: {
      stop: () => {
        app.stops++;
        return Promise.resolve();
      },
      start: () => {
        app.starts++;
        return Promise.resolve();
      },
    },
  });
  assert.deepEqual(app, { stops: 1, starts: 1 });
  assert.equal(result.snapshot.id.slice(0, 8), first.snapshotId.slice(0, 8));
  assert.equal(result.preRestore?.kind, 'backup', 'the state before the restore is kept as a backup');

  assert.deepEqual(await treeDigest(files), filesBefore);
  assert.deepEqual(await treeDigest(uploads), uploadsBefore);
  assert.deepEqual(await databaseDigest(pgA), dbBefore);
  assert.deepEqual(await readdir(files).then((n) => n.filter((x) => x.startsWith('.appliance'))), []);

  // The pre-restore backup holds the changed state, and a restore test of the latest passes.
  const list = await listBackups(ctx);
  assert.equal(list.length, 2);
  assert.ok(list[1]?.tags.includes('kind=pre-restore'));
  assert.equal(list[0]?.revision, target.revision);
  const test1 = await restoreTest(ctx, { snapshot: first.snapshotId });
  assert.equal(test1.ok, true, JSON.stringify(test1.mismatches));
  assert.equal(test1.tables, 2);
  assert.equal(test1.rows, 2003);
  const status = await ctx.status.read(new Date());
  assert.equal(status.lastRestoreTest?.ok, true);
  assert.equal(status.lastSuccess?.snapshotId, first.snapshotId);
  assert.equal(status.running, undefined);
});
