import type { SnapshotVolume } from '../../agent/core/steps.ts';
import { DockerClient } from '../../agent/drivers/docker/client.ts';
import { waitReady } from '../../agent/drivers/docker/health.ts';
import type { SnapshotDriver } from '../../agent/drivers/snapshot/driver.ts';
import { docker, TEST_LABEL, waitHealthy, type EnvInfo } from '../../devenv/docker-env.ts';

/** A PostgreSQL container of the test environment whose data directory is a given host directory. */
export interface BenchPostgres {
  name: string;
  psql(sql: string): Promise<string>;
  exec(args: string[]): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

export async function startBenchPostgres(
  env: EnvInfo,
  name: string,
  dataDir: string,
  dumpDir: string,
  secretsDir: string,
  /** More bind mounts, `host:container`. */
  mounts: readonly string[] = [],
): Promise<BenchPostgres> {
  await docker(env, ['rm', '-f', name], { okCodes: [0, 1] });
  await docker(env, [
    ...['run', '-d', '--name', name, '--label', `${TEST_LABEL}=bench-snapshot`],
    ...['-v', `${dataDir}:/var/lib/postgresql/data`, '-v', `${dumpDir}:/dump`, '-v', `${secretsDir}:/run/secrets:ro`],
    ...mounts.flatMap((m) => ['-v', m]),
    ...['-e', 'POSTGRES_USER=app', '-e', 'POSTGRES_DB=app', '-e', 'POSTGRES_PASSWORD_FILE=/run/secrets/password'],
    ...['--health-cmd', 'pg_isready -q -h 127.0.0.1 -U app -d app', '--health-interval', '1s'],
    'appliance-test/postgres:15',
  ]);
  const ready = async (): Promise<void> => {
    await waitHealthy(env, name, 600_000);
  };
  await ready();
  // Stop and start as the agent does around a restore: through the engine API, ready by the
  // agent's own wait (the health check command run until it passes), no CLI process per call.
  const client = new DockerClient({ socketPath: env.socketPath });
  const container = client.getContainer(name);
  const check = {
    cmd: ['pg_isready', '-q', '-h', '127.0.0.1', '-U', 'app', '-d', 'app'],
    intervalSeconds: 1,
    timeoutSeconds: 3,
    retries: 60,
    startPeriodSeconds: 600,
  };
  const exec = async (args: string[]): Promise<void> => {
    await docker(env, ['exec', name, ...args], { timeoutMs: 3_600_000 });
  };
  return {
    name,
    psql: async (sql) =>
      (await docker(env, ['exec', name, 'psql', '-U', 'app', '-d', 'app', '-At', '-c', sql], { timeoutMs: 3_600_000 }))
        .stdout,
    exec,
    stop: async () => {
      await container.stop();
    },
    start: async () => {
      await container.start();
      await waitReady(client, name, name, check);
    },
    remove: async () => {
      await docker(env, ['rm', '-f', name], { okCodes: [0, 1] });
    },
  };
}

/**
 * Fills table `items` (id primary key, 128 characters of hex text) until the database is about
 * `bytes` large, in batches, and checkpoints. Returns the database size.
 */
export async function fillTo(pg: BenchPostgres, bytes: number): Promise<number> {
  await pg.psql('CREATE TABLE IF NOT EXISTS items (id bigint PRIMARY KEY, body text NOT NULL)');
  const size = async (): Promise<number> => Number((await pg.psql("SELECT pg_database_size('app')")).trim());
  let next = Number((await pg.psql('SELECT coalesce(max(id), 0) + 1 FROM items')).trim());
  const batch = 200_000;
  while ((await size()) < bytes) {
    await pg.psql(
      `INSERT INTO items SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 31)::text) FROM generate_series(${next}, ${next + batch - 1}) g`,
    );
    next += batch;
  }
  await pg.psql('CHECKPOINT');
  return size();
}

/**
 * Snapshot (live, as the agent takes PRE_MIGRATE on btrfs), then restore it: stop the database,
 * swap the volume, start it, until it accepts connections.
 */
export async function snapshotAndRestore(
  pg: BenchPostgres,
  snaps: SnapshotDriver,
  volumes: SnapshotVolume[],
  at: Date,
): Promise<{
  snapshotMs: number;
  restoreMs: number;
  name: string;
  parts: { stopMs: number; swapMs: number; startMs: number };
}> {
  const t0 = performance.now();
  const info = await snaps.create({ kind: 'BACKUP', volumes, now: at });
  const t1 = performance.now();
  await pg.stop();
  const stopped = performance.now();
  await snaps.swapIn(info.name, volumes, `bench-${info.name}`);
  const swapped = performance.now();
  await pg.start();
  const t2 = performance.now();
  // The replaced data is deleted once the database serves again (as the agent does).
  await snaps.dropTrash(`bench-${info.name}`);
  return {
    snapshotMs: t1 - t0,
    restoreMs: t2 - t1,
    name: info.name,
    parts: { stopMs: stopped - t1, swapMs: swapped - stopped, startMs: t2 - swapped },
  };
}
