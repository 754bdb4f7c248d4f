import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DockerClient } from '../docker/client.ts';
import { databaseHasData } from '../../core/backup-guards.ts';
import type { DatabaseManifest, TableChecksum, TableStat } from '../../core/backup-manifest.ts';
import { AgentError } from '../../core/errors.ts';
import { execInContainer, type ExecTarget } from '../docker/container-exec.ts';
import { dockerError } from '../docker/errors.ts';
import { readTarFile } from '../docker/tar-file.ts';
import { readyDumpDir, type DumpDir } from './dump-dir.ts';
import { PSQL_FLAGS, PsqlSession } from './psql-session.ts';
import { DATABASE_INFO_SQL, DEFAULT_NON_EMPTY_SQL, ident, literal, parseTableStats, tableStatsSql } from './sql.ts';

/** The app's database: a PostgreSQL server in a running container, reached with `docker exec`. */
export interface PostgresOptions {
  docker: DockerClient;
  /** The database service's container. */
  container: string;
  database: string;
  user: string;
  /** Given to psql/pg_dump as PGPASSWORD in the exec environment (the local socket may trust). */
  password?: string;
  /** A host directory the container mounts, where pg_dump writes a backup's dump directly. */
  dumpDir?: DumpDir;
}

/** Encoding and locale a database is created with. */
export interface DatabaseLocale {
  encoding: string;
  collate: string;
  ctype: string;
}

/** What `dump` recorded; `dump` and `dumpBytes` describe the file written. */
export type DumpInfo = Omit<DatabaseManifest, 'dump'>;

/** A dump's transaction, open, its table stats being read (see PostgresDriver.beginDump). */
export interface PendingDump {
  /** pg_dump of the transaction's snapshot into `file` (0600), with the stats; ends the transaction, and the session meanwhile. */
  write(file: string, signal?: AbortSignal): Promise<DumpInfo>;
  /** Starts reading the table stats now, beside a running `write` (else `write` starts them). */
  readStats(): void;
  /**
   * The first value `sql` returns (default DEFAULT_NON_EMPTY_SQL), read in the dump's snapshot:
   * the "not empty" check of exactly what is dumped, with no psql of its own.
   */
  check(sql?: string): Promise<string>;
  /** Ends the session (rolling back a transaction `write` did not end); waits for a running stats query. */
  close(): Promise<void>;
}

const MAINTENANCE_DB = 'postgres';

/** The table checksum new backups record. */
const CHECKSUM: TableChecksum = 'hash';

/**
 * pg_dump, pg_restore and psql inside the database container, never on the host: the tools
 * always match the server's version, and the server needs no published port.
 */
export class PostgresDriver {
  readonly database: string;
  private readonly target: ExecTarget;
  private readonly user: string;
  private readonly dumpDir: DumpDir | undefined;

  constructor(options: PostgresOptions) {
    this.database = options.database;
    this.user = options.user;
    this.dumpDir = options.dumpDir;
    this.target = {
      docker: options.docker,
      container: options.container,
      ...(options.password === undefined ? {} : { env: [`PGPASSWORD=${options.password}`] }),
    };
  }

  /** Runs SQL (psql meta-commands allowed) in `database` and returns the output lines. */
  async psql(sql: string, database = this.database): Promise<string[]> {
    const r = await execInContainer(this.target, ['psql', ...PSQL_FLAGS, '-U', this.user, '-d', database], {
      stdin: `${sql}\n`,
      timeoutMs: 6 * 3600_000,
    });
    if (r.exitCode !== 0) {
      const code = /database ".*" does not exist/.test(r.stderr) ? 'DatabaseMissing' : 'DatabaseQueryFailed';
      throw new AgentError(code, `psql in ${this.target.container} (${database}) failed: ${r.stderr.trim()}`, {
        data: { container: this.target.container, database, exitCode: r.exitCode },
      });
    }
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  async databaseExists(name: string): Promise<boolean> {
    const rows = await this.psql(`SELECT 1 FROM pg_database WHERE datname = ${literal(name)};`, MAINTENANCE_DB);
    return rows.includes('1');
  }

  /**
   * Runs the "not empty" check (default: some user table has a row). The database counts as
   * not empty when the first value is `t`/`true` or a number above 0.
   */
  async nonEmpty(sql: string = DEFAULT_NON_EMPTY_SQL): Promise<{ nonEmpty: boolean; value: string }> {
    const value = (await this.psql(sql))[0]?.trim() ?? '';
    return { nonEmpty: databaseHasData(value), value };
  }

  /**
   * Row count and checksum of every user table of `database`; to compare with a backup, of the
   * kind it recorded (`checksum`, and how each table was hashed in `recorded`).
   */
  async tableStats(
    database = this.database,
    checksum: TableChecksum = CHECKSUM,
    recorded: readonly TableStat[] = [],
  ): Promise<TableStat[]> {
    return parseTableStats(await this.psql(tableStatsSql(checksum, recorded), database));
  }

  /**
   * The host directory the next dump can be written to directly (see readyDumpDir): the dump
   * directory when the container mounts it, emptied, 0700 and its exec user's. Undefined: a dump
   * goes anywhere on the host and is copied out through the engine.
   */
  async readyDumpDir(): Promise<string | undefined> {
    if (this.dumpDir === undefined) return undefined;
    const info = await this.target.docker
      .getContainer(this.target.container)
      .inspect()
      .catch(() => undefined);
    return info === undefined ? undefined : readyDumpDir(this.dumpDir, info);
  }

  /**
   * A consistent pg_dump (custom format, uncompressed so restic deduplicates it) written to
   * `file` (0600), and the table stats of exactly the same snapshot (see beginDump).
   */
  async dump(file: string, signal?: AbortSignal): Promise<DumpInfo> {
    const pending = await this.beginDump();
    try {
      return await pending.write(file, signal);
    } finally {
      await pending.close();
    }
  }

  /**
   * The first half of a dump, which writes nothing: one read-only transaction exports its
   * snapshot; `write` then has pg_dump import that snapshot, and the table stats are read in the
   * same transaction beside it from when `readStats` is called (a backup calls it once its file
   * scan is done: pg_dump, the stats query and the scan at once took pg_dump twice its time
   * alone on 2 cores, any two of them hardly longer). A `file` in the directory readyDumpDir
   * gave is written by pg_dump itself, through the container's mount; any other is written
   * inside the container first and copied out by the engine (its output through an exec stream
   * is several times slower than pg_dump itself).
   */
  async beginDump(): Promise<PendingDump> {
    const session = PsqlSession.open(this.target, this.user, this.database);
    let snapshot: string;
    let info: DatabaseLocale & { serverVersion: string };
    try {
      // One round trip: pg_dump waits for the snapshot.
      const [exported, about] = await session.query(
        `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n${DATABASE_INFO_SQL}`,
      );
      snapshot = exported?.trim() ?? '';
      info = JSON.parse(about ?? '{}') as DatabaseLocale & { serverVersion: string };
    } catch (err) {
      await session.close();
      throw err;
    }
    let stats: Promise<string[]> | undefined;
    const readStats = (): Promise<string[]> => {
      if (stats === undefined) {
        stats = session.query(tableStatsSql(CHECKSUM));
        stats.catch(() => undefined);
      }
      return stats;
    };
    return {
      readStats: () => void readStats(),
      // A statement without its `;` would wait in psql's buffer: the empty statement ends it.
      check: async (sql = DEFAULT_NON_EMPTY_SQL) => (await session.query(`${sql}\n;`))[0]?.trim() ?? '',
      write: async (file, signal) => {
        const direct =
          this.dumpDir !== undefined && path.dirname(path.resolve(file)) === path.resolve(this.dumpDir.hostPath)
            ? `${this.dumpDir.target}/${path.basename(file)}`
            : undefined;
        const inside = direct ?? `/tmp/appliance-backup-${this.database.replace(/[^\w.-]/g, '_')}.dump`;
        try {
          await this.dumpInside(inside, snapshot, signal);
          const tables = parseTableStats(await readStats());
          await session.query('COMMIT;');
          // The session has done its work: it ends meanwhile (close waits for it), not after the upload.
          void session.close();
          const dumpBytes = direct === undefined ? await this.copyOut(inside, file, signal) : (await stat(file)).size;
          return { name: this.database, ...info, tables, checksum: CHECKSUM, dumpBytes };
        } finally {
          if (direct === undefined) await execInContainer(this.target, ['rm', '-f', inside]).catch(() => undefined);
        }
      },
      close: () => session.close(),
    };
  }

  /** pg_dump of the exported snapshot to `inside`, a file in the container only the user pg_dump runs as can read. */
  private async dumpInside(inside: string, snapshot: string, signal?: AbortSignal): Promise<void> {
    const cmd = ['sh', '-c', 'umask 077 && exec "$@"', 'sh', 'pg_dump', '-Fc', '-Z0', `--snapshot=${snapshot}`];
    cmd.push('-U', this.user, '-d', this.database, '-f', inside);
    const r = await execInContainer(this.target, cmd, signal === undefined ? {} : { signal });
    if (r.exitCode !== 0) {
      throw new AgentError('DatabaseDumpFailed', `pg_dump of ${this.database} failed: ${r.stderr.trim()}`, {
        data: { container: this.target.container, database: this.database, exitCode: r.exitCode },
      });
    }
  }

  /** Copies the container's file `inside` to `file` (0600) through the engine; returns its size. */
  private async copyOut(inside: string, file: string, signal?: AbortSignal): Promise<number> {
    const container = this.target.docker.getContainer(this.target.container);
    try {
      const tar = await container.getArchive({ path: inside, ...(signal === undefined ? {} : { signal }) });
      return await readTarFile(tar, createWriteStream(file, { mode: 0o600 }));
    } catch (err) {
      throw dockerError(
        err,
        'DatabaseDumpFailed',
        `copy the dump of ${this.database} out of ${this.target.container}`,
        {
          container: this.target.container,
          database: this.database,
        },
      );
    }
  }

  /** Creates an empty database owned by the user (template0, the given encoding and locale). */
  async createDatabase(name: string, locale?: DatabaseLocale): Promise<void> {
    let sql = `CREATE DATABASE ${ident(name)} OWNER ${ident(this.user)} TEMPLATE template0`;
    if (locale !== undefined) {
      sql += ` ENCODING ${literal(locale.encoding)} LC_COLLATE ${literal(locale.collate)} LC_CTYPE ${literal(locale.ctype)}`;
    }
    await this.psql(`${sql};`, MAINTENANCE_DB);
  }

  /** Drops a database, ending its sessions; fine when it is not there. */
  async dropDatabase(name: string): Promise<void> {
    await this.psql(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE);`, MAINTENANCE_DB);
  }

  /**
   * pg_restore of a custom-format dump read from `input` into the existing, empty `database`,
   * in one transaction (all or nothing), objects owned by the user.
   */
  async restoreInto(database: string, input: Readable, signal?: AbortSignal): Promise<void> {
    const cmd = ['pg_restore', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error'];
    cmd.push('-U', this.user, '-d', database);
    const r = await execInContainer(this.target, cmd, { stdin: input, ...(signal === undefined ? {} : { signal }) });
    if (r.exitCode !== 0) {
      throw new AgentError('DatabaseRestoreFailed', `pg_restore into ${database} failed: ${r.stderr.trim()}`, {
        data: { container: this.target.container, database, exitCode: r.exitCode },
      });
    }
  }

  /**
   * Replaces the database with the dump: restores into a new database first, so a failed
   * restore leaves the current one untouched, then swaps names and drops the old one.
   */
  async replaceFromDump(input: Readable, locale?: DatabaseLocale, signal?: AbortSignal): Promise<void> {
    await this.swapIn(await this.restoreToScratch('restore', input, locale, signal));
  }

  /** Restores a dump into a fresh database `<database>__<purpose>` and returns its name. */
  async restoreToScratch(
    purpose: string,
    input: Readable,
    locale?: DatabaseLocale,
    signal?: AbortSignal,
  ): Promise<string> {
    const next = scratchName(this.database, purpose);
    await this.dropDatabase(next);
    await this.createDatabase(next, locale);
    try {
      await this.restoreInto(next, input, signal);
    } catch (err) {
      input.destroy();
      await this.dropDatabase(next).catch(() => undefined);
      throw err;
    }
    return next;
  }

  /** Puts database `next` in place of the live one, which is dropped. The app must be stopped. */
  async swapIn(next: string): Promise<void> {
    const live = this.database;
    const old = scratchName(live, 'old');
    await this.dropDatabase(old);
    if (await this.databaseExists(live)) {
      // No new sessions, then end the existing ones, so the rename cannot be raced.
      await this.psql(
        `ALTER DATABASE ${ident(live)} ALLOW_CONNECTIONS false;
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${literal(live)} AND pid <> pg_backend_pid();
ALTER DATABASE ${ident(live)} RENAME TO ${ident(old)};`,
        MAINTENANCE_DB,
      );
    }
    await this.psql(`ALTER DATABASE ${ident(next)} RENAME TO ${ident(live)};`, MAINTENANCE_DB);
    await this.dropDatabase(old);
  }
}

/** A database name beside `base` (63 bytes at most, PostgreSQL's limit). */
export function scratchName(base: string, purpose: string): string {
  const suffix = `__${purpose}`;
  return `${base.slice(0, 63 - suffix.length)}${suffix}`;
}
