import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, lstat, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DockerClient } from '../../agent/drivers/docker/client.ts';
import pg from 'pg';
import { createBackupContext, type BackupContext } from '../../agent/backup/context.ts';
import type { BackupTarget, BackupVolume } from '../../agent/core/backup-target.ts';
import { createLogger } from '../../agent/lib/log.ts';
import type { EnvInfo, PostgresFixture } from '../../devenv/docker-env.ts';

/** A restic password long enough for the schema (and easy to search for in output). */
export const REPO_PASSWORD = 'restic-pass-7a4f1c9e2b';

export async function tempRoot(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** A BackupTarget for tests: UTC, default retention unless given. */
export function testTarget(input: {
  appliance: string;
  repository: string;
  volumes: BackupVolume[];
  pg?: PostgresFixture;
  password?: string;
  database?: string;
  policy?: Partial<BackupTarget['policy']>;
  recoverFromBackup?: boolean;
  recoverFromDump?: string;
}): BackupTarget {
  const target: BackupTarget = {
    appliance: input.appliance,
    revision: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    timezone: 'UTC',
    volumes: input.volumes,
    repository: { repository: input.repository, password: REPO_PASSWORD, env: {}, knownHosts: [] },
    policy: { keep_last: 3, keep_daily: 7, keep_weekly: 4, keep_monthly: 6, max_age_hours: 32, ...input.policy },
    schedules: { backup: '30 22 * * *', prune: '0 4 * * *', check: '0 5 * * 0', restoreTest: '0 5 1 * *' },
    recoverFromBackup: input.recoverFromBackup ?? false,
  };
  if (input.pg !== undefined) {
    target.database = {
      container: input.pg.container,
      name: input.database ?? input.pg.database,
      user: input.pg.user,
      password: input.password ?? '',
    };
  }
  if (input.recoverFromDump !== undefined) target.recoverFromDump = input.recoverFromDump;
  return target;
}

/** A context whose logs are dropped, on the test environment's Docker engine. */
export function testContext(target: BackupTarget, stateDir: string, env?: EnvInfo): BackupContext {
  return createBackupContext(target, {
    stateDir,
    log: createLogger({ level: 'silent' }),
    ...(env === undefined ? {} : { docker: new DockerClient({ socketPath: env.socketPath }) }),
  });
}

/** The fixture's password (startPostgres keeps it in a 0600 file). */
export async function pgPassword(fixture: PostgresFixture): Promise<string> {
  return (await readFile(path.join(fixture.secretsDir, 'password'), 'utf8')).trim();
}

/** A pg client on the fixture's published port. */
export async function connect(fixture: PostgresFixture, database = fixture.database): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: fixture.port,
    user: fixture.user,
    password: await pgPassword(fixture),
    database,
  });
  await client.connect();
  return client;
}

/** Runs SQL on the fixture through pg (independent of the driver under test). */
export async function sql(fixture: PostgresFixture, text: string, database?: string): Promise<pg.QueryResult[]> {
  const client = await connect(fixture, database);
  try {
    const r = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(r) ? r : [r];
  } finally {
    await client.end();
  }
}

/** Two tables with rows of several types, one of them large enough to matter. */
export async function seedDatabase(fixture: PostgresFixture, database?: string): Promise<void> {
  await sql(
    fixture,
    `CREATE TABLE documents (id serial PRIMARY KEY, title text NOT NULL, body bytea, created timestamptz DEFAULT now());
     CREATE TABLE "Mixed Case" (k text PRIMARY KEY, v jsonb, n numeric(20,6));
     INSERT INTO documents (title, body) SELECT 'doc ' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 2000) g;
     INSERT INTO "Mixed Case" VALUES ('a', '{"x": 1}', 1.5), ('b', '[1,2,3]', -2.25), ('c''s', null, 0);`,
    database,
  );
}

/** Per table: row count and md5 of the rows sorted as text — computed without the driver. */
export async function databaseDigest(fixture: PostgresFixture, database?: string): Promise<Record<string, string>> {
  const client = await connect(fixture, database);
  try {
    const tables = await client.query<{ s: string; t: string }>(
      `SELECT schemaname AS s, tablename AS t FROM pg_tables
       WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    );
    const out: Record<string, string> = {};
    for (const { s, t } of tables.rows) {
      const q = `SELECT count(*)::text AS n, coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS h FROM "${s}"."${t.replace(/"/g, '""')}" x`;
      const r = await client.query<{ n: string; h: string }>(q);
      out[`${s}.${t}`] = `${r.rows[0]?.n ?? ''}:${r.rows[0]?.h ?? ''}`;
    }
    return out;
  } finally {
    await client.end();
  }
}

/** Writes a small file store: nested dirs, a binary file, an empty file, a symlink. */
export async function seedFiles(root: string): Promise<void> {
  await mkdir(path.join(root, 'docs', '2024', 'deep'), { recursive: true });
  await writeFile(path.join(root, 'docs', 'a.txt'), 'alpha\n');
  await writeFile(
    path.join(root, 'docs', '2024', 'deep', 'b.bin'),
    Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256)),
  );
  await writeFile(path.join(root, 'docs', 'empty'), '');
  await writeFile(path.join(root, 'name with spaces ü.txt'), 'unicode name\n', { mode: 0o640 });
}

/** path → sha256, size and mode of every file and link under `root` (independent of the code under test). */
export async function treeDigest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const abs = path.join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(abs);
      if (st.isDirectory()) await walk(abs, r);
      else if (st.isSymbolicLink()) out[r] = `link:${await readlink(abs)}`;
      else {
        const sha = createHash('sha256')
          .update(await readFile(abs))
          .digest('hex');
        out[r] = `${sha}:${st.size}:${(st.mode & 0o777).toString(8)}`;
      }
    }
  };
  await walk(root, '');
  return out;
}

export async function removeAll(...dirs: string[]): Promise<void> {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
