import assert from 'node:assert/strict';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { createGzip } from 'node:zlib';
import { recoverIfRequested } from '../../agent/backup/disaster-recovery.ts';
import { runBackup } from '../../agent/backup/run-backup.ts';
import {
  openPostgresSuite,
  docker,
  publishedPort,
  TEST_LABEL,
  waitForHttp,
  type EnvInfo,
  type PostgresFixture,
} from '../../devenv/docker-env.ts';
import { databaseDigest, pgPassword, seedFiles, sql, testContext, testTarget, treeDigest } from './helpers.ts';

const LABEL = 'backup-dr';
let env: EnvInfo;
let pgA: PostgresFixture;
let pgB: PostgresFixture;
let root: string;
let close: () => Promise<void>;

before(async () => {
  const suite = await openPostgresSuite(LABEL, ['dr-a-pg', 'dr-b-pg']);
  ({ env, root, close } = suite);
  [pgA, pgB] = suite.pgs as [PostgresFixture, PostgresFixture];
});
after(() => close());

/** Runs the demo app image against a fixture's database (migrate, or serve in the background). */
async function demo(fixture: PostgresFixture, command: 'migrate' | 'serve'): Promise<string> {
  const args = [
    ...(command === 'serve' ? ['run', '-d', '--name', 'dr-web', '-p', '127.0.0.1::8080'] : ['run', '--rm']),
    ...[
      '--label',
      `${TEST_LABEL}=${LABEL}`,
      '--network',
      fixture.network,
      '-v',
      `${fixture.secretsDir}:/run/secrets:ro`,
    ],
    ...['-e', `DATABASE_URL=postgresql://${fixture.user}@${fixture.container}:5432/${fixture.database}`],
    ...['-e', 'DATABASE_PASSWORD_FILE=/run/secrets/password', 'appliance-test/demo:v1', command],
  ];
  return (await docker(env, args)).stdout.trim();
}

test('a fresh appliance with recover_from_backup comes up on the restored data', async () => {
  // Appliance A: the demo app's schema, 25 rows, a file store.
  const filesA = path.join(root, 'a', 'files');
  await seedFiles(filesA);
  await demo(pgA, 'migrate');
  await sql(pgA, 'INSERT INTO items (created) SELECT now() FROM generate_series(1, 25)');
  const repository = path.join(root, 'repo');
  const targetA = testTarget({
    appliance: 'prod',
    repository,
    volumes: [{ name: 'files', hostPath: filesA }],
    pg: pgA,
    password: await pgPassword(pgA),
  });
  await runBackup(testContext(targetA, path.join(root, 'a', 'state'), env), { envYml: 'sops: {}\n' });

  // Appliance B: its own state directory, an empty file store, a freshly initialised database.
  const filesB = path.join(root, 'b', 'files');
  const targetB = testTarget({
    appliance: 'prod',
    repository,
    volumes: [{ name: 'files', hostPath: filesB }],
    pg: pgB,
    password: await pgPassword(pgB),
    recoverFromBackup: true,
  });
  const ctxB = testContext(targetB, path.join(root, 'b', 'state'), env);
  const outcome = await recoverIfRequested(ctxB);
  assert.equal(outcome.kind, 'recovered-backup');

  assert.deepEqual(await treeDigest(filesB), await treeDigest(filesA));
  assert.deepEqual(await databaseDigest(pgB), await databaseDigest(pgA));

  // The app on B serves A's data.
  await demo(pgB, 'serve');
  const port = await publishedPort(env, 'dr-web', 8080);
  const answer = await waitForHttp(`http://127.0.0.1:${port}/`);
  assert.equal(answer.status, 200);
  assert.equal((JSON.parse(answer.body.toString()) as { rows: number }).rows, 25);

  // The flag stays set in env.yml: the next start finds data and leaves it alone.
  const again = await recoverIfRequested(ctxB);
  assert.equal(again.kind, 'data-present');
});

test('recover_from_dump imports a gzipped custom-format dump into an empty database', async () => {
  const dumpDir = path.join(root, 'dump');
  await mkdir(dumpDir, { recursive: true });
  const ctxA = testContext(
    testTarget({ appliance: 'prod', repository: path.join(root, 'repo'), volumes: [], pg: pgA }),
    path.join(root, 'a', 'state'),
    env,
  );
  const plain = path.join(dumpDir, 'prod.pgdump');
  await ctxA.postgres?.dump(plain);
  const gz = `${plain}.gz`;
  await pipeline(createReadStream(plain), createGzip(), createWriteStream(gz));

  const ctxC = testContext(
    testTarget({
      appliance: 'imported',
      repository: path.join(root, 'repo-c'),
      volumes: [],
      pg: pgB,
      database: 'imported',
      recoverFromDump: gz,
    }),
    path.join(root, 'c', 'state'),
    env,
  );
  const outcome = await recoverIfRequested(ctxC);
  assert.equal(outcome.kind, 'recovered-dump');
  assert.deepEqual(await databaseDigest(pgB, 'imported'), await databaseDigest(pgA));
  assert.equal((await recoverIfRequested(ctxC)).kind, 'data-present');
});
