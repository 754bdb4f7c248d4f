import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  docker,
  openPostgresSuite,
  httpRequest,
  publishedPort,
  TEST_LABEL,
  waitForHttp,
  waitHealthy,
  type EnvInfo,
  type PostgresFixture,
} from '../../devenv/docker-env.ts';

const label = 'demo-versions';
let env: EnvInfo;
let pg: PostgresFixture;
let close: () => Promise<void>;

before(async () => ({ env, pg, close } = await openPostgresSuite(label)));
after(() => close());

/** A fresh database on the shared server, so each test starts from an empty schema. */
async function createDatabase(name: string): Promise<string> {
  await docker(env, ['exec', pg.container, 'createdb', '-U', pg.user, name]);
  return name;
}

function appArgs(database: string): string[] {
  return [
    ...['--label', `${TEST_LABEL}=${label}`, '--network', pg.network, '-v', `${pg.secretsDir}:/run/secrets:ro`],
    ...['-e', `DATABASE_URL=postgresql://${pg.user}@${pg.container}/${database}`],
    ...['-e', 'DATABASE_PASSWORD_FILE=/run/secrets/password'],
  ];
}

/** Runs one command of the demo app's image (migrate, migrate-status, …) against `database`. */
function demo(version: string, database: string, ...command: string[]) {
  return docker(env, ['run', '--rm', ...appArgs(database), `appliance-test/demo:${version}`, ...command], {
    okCodes: [0, 1, 2, 10, 11],
  });
}

/** Starts the demo server of `version` with 8080 published on 127.0.0.1; returns its base URL. */
async function serve(version: string, database: string): Promise<string> {
  const name = `${label}-${version}-${database}`;
  await docker(env, [
    'run',
    '-d',
    '--name',
    name,
    ...appArgs(database),
    '-p',
    '127.0.0.1::8080',
    `appliance-test/demo:${version}`,
  ]);
  const port = await publishedPort(env, name, 8080);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/healthz`);
  return base;
}

async function getJson(url: string, method = 'GET'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await httpRequest(url, { method });
  return { status: res.status, body: JSON.parse(res.body.toString('utf8')) as Record<string, unknown> };
}

test('demo v1 migrates, then serves its version and row count from postgres', async () => {
  const db = await createDatabase('serve_v1');
  assert.equal((await demo('v1', db, 'migrate')).exitCode, 0);
  const base = await serve('v1', db);
  await waitHealthy(env, `${label}-v1-${db}`);

  assert.deepEqual(await getJson(`${base}/`), { status: 200, body: { version: 'v1', rows: 0 } });
  const inserted = await getJson(`${base}/rows`, 'POST');
  assert.equal(inserted.status, 201);
  assert.equal(inserted.body['rows'], 1);
  assert.deepEqual(await getJson(`${base}/`), { status: 200, body: { version: 'v1', rows: 1 } });
  assert.equal((await getJson(`${base}/healthz`)).status, 200);
});

test('migrate-status exits 10 listing pending migrations, 0 with up-to-date, 11 when the database is ahead', async () => {
  const db = await createDatabase('status');
  const pending = await demo('v1', db, 'migrate-status');
  assert.equal(pending.exitCode, 10);
  assert.equal(pending.stdout, 'pending:\n001_items\n');

  await demo('v1', db, 'migrate');
  const upToDate = await demo('v1', db, 'migrate-status');
  assert.equal(upToDate.exitCode, 0);
  assert.equal(upToDate.stdout.trim(), 'up-to-date');

  const v2Pending = await demo('v2', db, 'migrate-status');
  assert.equal(v2Pending.exitCode, 10);
  assert.equal(v2Pending.stdout, 'pending:\n002_note\n');

  await demo('v2', db, 'migrate');
  const ahead = await demo('v1', db, 'migrate-status');
  assert.equal(ahead.exitCode, 11);
  assert.equal(ahead.stdout, 'ahead:\n002_note\n');
});

test('v2 migrate-down v1 reverses its migration', async () => {
  const db = await createDatabase('down');
  await demo('v2', db, 'migrate');
  const down = await demo('v2', db, 'migrate-down', 'v1');
  assert.equal(down.exitCode, 0, down.stderr);
  assert.equal(down.stdout, 'reversed:\n002_note\n');
  assert.equal((await demo('v1', db, 'migrate-status')).exitCode, 0);
  const columns = await docker(env, [
    ...['exec', pg.container, 'psql', '-U', pg.user, '-d', db, '-At'],
    ...['-c', "select column_name from information_schema.columns where table_name = 'items' order by 1"],
  ]);
  assert.equal(columns.stdout, 'created\nid\n');
});

test("migration-state prints the version's migrations; migrate-down reads such a state on stdin", async () => {
  const v1 = await demo('v1', 'unused', 'migration-state');
  assert.equal(v1.exitCode, 0);
  assert.equal(v1.stdout, '001_items\n');
  assert.equal((await demo('v2', 'unused', 'migration-state')).stdout, '001_items\n002_note\n');

  const db = await createDatabase('down_stdin');
  await demo('v2', db, 'migrate');
  const down = await docker(
    env,
    ['run', '--rm', '-i', ...appArgs(db), 'appliance-test/demo:v2', 'migrate-down', '--to-state-from-stdin'],
    { input: v1.stdout, okCodes: [0, 1] },
  );
  assert.equal(down.exitCode, 0, down.stderr);
  assert.equal(down.stdout, 'reversed:\n002_note\n');
  assert.equal((await demo('v1', db, 'migrate-status')).exitCode, 0);

  await demo('v2', db, 'migrate');
  await demo('v4', db, 'migrate');
  // v2 does not know v4's 004_tag: nothing is changed.
  const refused = await docker(
    env,
    ['run', '--rm', '-i', ...appArgs(db), 'appliance-test/demo:v2', 'migrate-down', '--to-state-from-stdin'],
    { input: v1.stdout, okCodes: [0, 1] },
  );
  assert.equal(refused.exitCode, 1);
  assert.match(refused.stderr, /004_tag cannot be reversed by v2/);
  assert.equal((await demo('v4', db, 'migrate-status')).exitCode, 0);
});

test('v3 fails its migration after changing the schema', async () => {
  const db = await createDatabase('broken');
  await demo('v2', db, 'migrate');
  const failed = await demo('v3', db, 'migrate');
  assert.equal(failed.exitCode, 1);
  assert.match(failed.stderr, /003_broken failed: division by zero/);
  const partial = await docker(env, [
    ...['exec', pg.container, 'psql', '-U', pg.user, '-d', db, '-At'],
    ...['-c', "select count(*) from information_schema.columns where table_name = 'items' and column_name = 'broken'"],
  ]);
  assert.equal(partial.stdout.trim(), '1');
  assert.equal((await demo('v3', db, 'migrate-status')).exitCode, 10);
});

test('v4 migrates but fails its health check and smoke test', async () => {
  const db = await createDatabase('unhealthy');
  const migrated = await demo('v4', db, 'migrate');
  assert.equal(migrated.exitCode, 0, migrated.stderr);
  assert.equal(migrated.stdout, 'applied:\n001_items\n002_note\n004_tag\n');
  assert.equal((await demo('v4', db, 'smoke')).exitCode, 1);
  assert.equal((await demo('v2', db, 'smoke')).exitCode, 0);
  const base = await serve('v4', db);
  const health = await getJson(`${base}/healthz`);
  assert.equal(health.status, 500);
  assert.deepEqual(await getJson(`${base}/`), { status: 200, body: { version: 'v4', rows: 0 } });
});
