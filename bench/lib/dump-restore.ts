/** Runs a command (argv) in the PostgreSQL container, as the database's superuser would. */
export type PgExec = (args: string[]) => Promise<void>;

/** Which database to copy, as whom. */
export interface DumpSource {
  user: string;
  database: string;
}

const SCRATCH = 'scratch';

/**
 * The baseline the snapshot benches compare with: `source` copied by pg_dump (custom format)
 * and pg_restore into a new scratch database (dropped after). Here as `pg_dump | pg_restore`,
 * the quickest such copy, which ends with a scratch database that answers. Returns its ms.
 */
export async function dumpPipedToScratch(exec: PgExec, source: DumpSource): Promise<number> {
  const { user, database } = source;
  return scratch(exec, user, async () => {
    const t0 = performance.now();
    await exec(['createdb', '-U', user, SCRATCH]);
    // Fixed names only: nothing from outside reaches the shell.
    await exec(['sh', '-c', `pg_dump -U ${user} -Fc ${database} | pg_restore -U ${user} -d ${SCRATCH}`]);
    return performance.now() - t0;
  });
}

/**
 * The same copy through a dump file (`file`, a path in the container), as a dump-based rollback
 * would make it: pg_dump, then pg_restore into the scratch database, each timed.
 */
export async function dumpThenRestore(
  exec: PgExec,
  source: DumpSource,
  file: string,
): Promise<{ dumpMs: number; restoreMs: number }> {
  const { user, database } = source;
  return scratch(exec, user, async () => {
    const t0 = performance.now();
    await exec(['pg_dump', '-U', user, '-d', database, '-Fc', '-f', file]);
    const t1 = performance.now();
    await exec(['createdb', '-U', user, SCRATCH]);
    await exec(['pg_restore', '-U', user, '-d', SCRATCH, file]);
    const t2 = performance.now();
    await exec(['rm', '-f', file]);
    return { dumpMs: t1 - t0, restoreMs: t2 - t1 };
  });
}

/** Runs `fn` with no scratch database before it, and drops the one it made after. */
async function scratch<T>(exec: PgExec, user: string, fn: () => Promise<T>): Promise<T> {
  await exec(['dropdb', '-U', user, '--if-exists', SCRATCH]);
  const out = await fn();
  await exec(['dropdb', '-U', user, SCRATCH]);
  return out;
}
