import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runBackup, type BackupPhase } from '../../agent/backup/run-backup.ts';
import type { BackupTarget } from '../../agent/core/backup-target.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { Restic } from '../../agent/drivers/restic/restic.ts';
import { openPostgresSuite, type EnvInfo, type PostgresFixture } from '../../devenv/docker-env.ts';
import { pgPassword, sql, testContext, testTarget } from './helpers.ts';

const LABEL = 'backup-repo-first';
let env: EnvInfo;
let pgA: PostgresFixture;
let root: string;
let close: () => Promise<void>;

before(async () => ({ env, pg: pgA, root, close } = await openPostgresSuite(LABEL)));
after(() => close());

test('a wrong repository password fails the backup before the database is dumped', async () => {
  const files = path.join(root, 'files');
  await mkdir(files, { recursive: true });
  await writeFile(path.join(files, 'f.txt'), 'data\n');
  await sql(pgA, 'CREATE TABLE items (id int); INSERT INTO items VALUES (1)');
  const repo = path.join(root, 'repo');
  await new Restic({ repository: repo, password: 'another-password-entirely' }).init();
  const target = testTarget({
    appliance: 'repofirst',
    repository: repo,
    volumes: [{ name: 'files', hostPath: files }],
    pg: pgA,
    password: await pgPassword(pgA),
  });
  const ctx = testContext(target, path.join(root, 'state'), env);
  const phases: BackupPhase[] = [];
  await assert.rejects(runBackup(ctx, { onPhase: (p) => phases.push(p) }), (err) =>
    isAgentError(err, 'BackupPasswordWrong'),
  );
  assert.ok(!phases.includes('dump'), `phases: ${phases.join(', ')}`);
  const status = await ctx.status.read(new Date());
  assert.equal(status.lastFailure?.code, 'BackupPasswordWrong');
});

test('a password changed after good backups still fails before the dump', async () => {
  const files = path.join(root, 'files-2');
  await mkdir(files, { recursive: true });
  await writeFile(path.join(files, 'f.txt'), 'data\n');
  await sql(pgA, 'CREATE TABLE IF NOT EXISTS items (id int); INSERT INTO items VALUES (2)');
  const repo = path.join(root, 'repo-2');
  const state = path.join(root, 'state-2');
  const pgPass = await pgPassword(pgA);
  const target = (password: string): BackupTarget => ({
    ...testTarget({
      appliance: 'repofirst',
      repository: repo,
      volumes: [{ name: 'files', hostPath: files }],
      pg: pgA,
      password: pgPass,
    }),
    repository: { repository: repo, password, env: {}, knownHosts: [] },
  });
  // Two good backups: the second checks the repository from what the first remembered.
  await runBackup(testContext(target('the-first-password'), state, env));
  await runBackup(testContext(target('the-first-password'), state, env));
  const phases: BackupPhase[] = [];
  await assert.rejects(
    runBackup(testContext(target('a-changed-password'), state, env), { onPhase: (p) => phases.push(p) }),
    (err) => isAgentError(err, 'BackupPasswordWrong'),
  );
  assert.ok(!phases.includes('dump'), `phases: ${phases.join(', ')}`);
});
