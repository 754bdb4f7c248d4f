import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DockerClient } from '../../../agent/drivers/docker/client.ts';
import { execInContainer } from '../../../agent/drivers/docker/container-exec.ts';
import { PostgresDriver } from '../../../agent/drivers/postgres/postgres.ts';
import { isAgentError } from '../../../agent/core/errors.ts';
import {
  ensureEnv,
  removeLabelled,
  startPostgres,
  type EnvInfo,
  type PostgresFixture,
} from '../../../devenv/docker-env.ts';
import { connect, databaseDigest, pgPassword, sql } from '../../backup/helpers.ts';

const LABEL = 'pg-driver';
let env: EnvInfo;
let fixture: PostgresFixture;
let dir: string;
let pg: PostgresDriver;
let password: string;

before(async () => {
  env = await ensureEnv();
  await removeLabelled(env, LABEL);
  fixture = await startPostgres(env, LABEL);
  dir = await mkdtemp(path.join(tmpdir(), 'pg-driver-'));
  password = await pgPassword(fixture);
  pg = new PostgresDriver({
    docker: new DockerClient({ socketPath: env.socketPath }),
    container: fixture.container,
    database: fixture.database,
    user: fixture.user,
    password,
  });
});

after(async () => {
  await removeLabelled(env, LABEL);
  await fixture.remove();
  await rm(dir, { recursive: true, force: true });
});

test('the default check counts user tables with rows; a missing database has its own code', async () => {
  assert.deepEqual(await pg.nonEmpty(), { nonEmpty: false, value: '0' });
  await sql(fixture, 'CREATE SCHEMA extra; CREATE TABLE extra.t (x int)');
  assert.equal((await pg.nonEmpty()).nonEmpty, false);
  await sql(fixture, 'INSERT INTO extra.t VALUES (1)');
  assert.deepEqual(await pg.nonEmpty(), { nonEmpty: true, value: '1' });
  assert.equal((await pg.nonEmpty('SELECT false')).nonEmpty, false);
  assert.equal((await pg.nonEmpty('SELECT true')).nonEmpty, true);

  const missing = new PostgresDriver({
    docker: new DockerClient({ socketPath: env.socketPath }),
    container: fixture.container,
    database: 'nope',
    user: fixture.user,
    password,
  });
  await assert.rejects(missing.nonEmpty(), (err) => {
    assert.ok(isAgentError(err, 'DatabaseMissing'));
    assert.doesNotMatch(err.message, new RegExp(password));
    return true;
  });
});

test('a dump taken during writes matches the table stats recorded with it, and restores to them', async () => {
  // Every transaction inserts one row into each table: in any consistent snapshot the counts are equal.
  await sql(fixture, 'CREATE TABLE a (id serial, v text); CREATE TABLE b (id serial, v text)');
  // json has no hash function: such a table is hashed by its text.
  await sql(fixture, `CREATE TABLE c (id int, doc json); INSERT INTO c VALUES (1, '{"k": [1, 2]}'), (2, NULL)`);
  await sql(
    fixture,
    `INSERT INTO a (v) SELECT md5(g::text) FROM generate_series(1, 20000) g;
                      INSERT INTO b (v) SELECT md5(g::text) FROM generate_series(1, 20000) g;`,
  );
  const file = path.join(dir, 'app.dump');
  const { value: info, during } = await underWrites(() => pg.dump(file));
  assert.ok(during > 0, 'writes ran during the dump');
  const byName = Object.fromEntries(info.tables.map((t) => [t.table, t]));
  assert.equal(byName['public.a']?.rows, byName['public.b']?.rows, 'one snapshot for all tables');
  assert.equal((await readFile(file)).subarray(0, 5).toString(), 'PGDMP');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal(info.dumpBytes, (await stat(file)).size);
  assert.equal(info.encoding, 'UTF8');

  assert.equal(info.checksum, 'hash');
  assert.equal(byName['public.a']?.hash, 'record');
  assert.deepEqual(
    info.tables.filter((t) => t.table === 'public.c').map((t) => [t.hash, t.rows]),
    [['text', 2]],
  );
  // pg_dump wrote the file inside the container; nothing of it is left there.
  const docker = new DockerClient({ socketPath: env.socketPath });
  const listed = await execInContainer({ docker, container: fixture.container }, ['ls', '-a', '/tmp']);
  assert.doesNotMatch(listed.stdout, /appliance-backup/);

  const scratch = await pg.restoreToScratch('copy', createReadStream(file), info);
  assert.deepEqual(await pg.tableStats(scratch, info.checksum, info.tables), info.tables);
  // Backups that recorded md5 sums (older ones) are still compared with md5 sums.
  const md5 = await pg.tableStats(scratch, 'md5');
  assert.deepEqual(
    md5.map((t) => t.rows),
    info.tables.map((t) => t.rows),
  );
  assert.notDeepEqual(
    md5.map((t) => t.sum),
    info.tables.map((t) => t.sum),
  );
  await pg.dropDatabase(scratch);
  assert.equal(await pg.databaseExists(scratch), false);
});

test('table stats started while pg_dump runs (as a backup starts them) come from its snapshot too', async () => {
  const file = path.join(dir, 'stats-beside.dump');
  const { value: info, during } = await underWrites(async () => {
    const pending = await pg.beginDump();
    try {
      const writing = pending.write(file);
      await new Promise((resolve) => setTimeout(resolve, 100));
      pending.readStats();
      return await writing;
    } finally {
      await pending.close();
    }
  });
  assert.ok(during > 0, 'writes ran during the dump');
  const byName = Object.fromEntries(info.tables.map((t) => [t.table, t]));
  assert.equal(byName['public.a']?.rows, byName['public.b']?.rows, 'one snapshot for all tables');
  const scratch = await pg.restoreToScratch('beside', createReadStream(file), info);
  assert.deepEqual(await pg.tableStats(scratch, info.checksum, info.tables), info.tables);
  await pg.dropDatabase(scratch);
});

test('the not-empty check of a dump reads what is dumped: a row written after its snapshot does not count', async () => {
  await sql(fixture, 'CREATE TABLE checked (x int)');
  const tablesWithRows = (await pg.nonEmpty()).value;
  const pending = await pg.beginDump();
  try {
    await sql(fixture, 'INSERT INTO checked VALUES (1)');
    assert.equal(
      (await pg.nonEmpty('SELECT count(*) FROM checked')).value,
      '1',
      'the row is there outside the snapshot',
    );
    // Asked together, in one session; the second without its semicolon, as a configured check may be.
    const [byDefault, configured] = await Promise.all([pending.check(), pending.check('SELECT count(*) FROM checked')]);
    assert.equal(byDefault, tablesWithRows);
    assert.equal(configured, '0');
    const info = await pending.write(path.join(dir, 'checked.dump'));
    assert.equal(info.tables.find((t) => t.table === 'public.checked')?.rows, 0);
  } finally {
    await pending.close();
  }
});

test('replacing the database from a dump leaves no object created after it', async () => {
  const file = path.join(dir, 'before.dump');
  const info = await pg.dump(file);
  const before = await databaseDigest(fixture);
  await sql(fixture, 'CREATE TABLE later (x int); INSERT INTO later VALUES (1); TRUNCATE a;');
  await pg.replaceFromDump(createReadStream(file), info);
  assert.deepEqual(await databaseDigest(fixture), before);
  assert.equal(await pg.databaseExists('app__old'), false);
  assert.equal(await pg.databaseExists('app__restore'), false);
});

test('a broken dump fails the restore and leaves the live database as it was', async () => {
  const before = await databaseDigest(fixture);
  const bad = path.join(dir, 'bad.dump');
  const good = await readFile(path.join(dir, 'before.dump'));
  await writeFile(bad, good.subarray(0, Math.floor(good.length / 2)));
  await assert.rejects(pg.replaceFromDump(createReadStream(bad)), (err) => isAgentError(err, 'DatabaseRestoreFailed'));
  assert.deepEqual(await databaseDigest(fixture), before);
  assert.equal(await pg.databaseExists('app__restore'), false);
});

/**
 * Runs `fn` 200 ms into a stream of transactions that each insert a row into both `a` and `b`
 * (in any consistent snapshot their counts are equal); `during`: transactions while it ran.
 */
async function underWrites<T>(fn: () => Promise<T>): Promise<{ value: T; during: number }> {
  const writer = await connect(fixture);
  const load = { writing: true, writes: 0 };
  const loop = (async () => {
    while (load.writing) {
      await writer.query(`BEGIN; INSERT INTO a (v) VALUES ('w'); INSERT INTO b (v) VALUES ('w'); COMMIT;`);
      load.writes++;
    }
  })();
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const atStart = load.writes;
    const value = await fn();
    return { value, during: load.writes - atStart };
  } finally {
    load.writing = false;
    await loop;
    await writer.end();
  }
}
