import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { compareTables, type DatabaseManifest, type Mismatch } from '../core/backup-manifest.ts';
import { AgentError } from '../core/errors.ts';
import type { PostgresDriver } from '../drivers/postgres/postgres.ts';
import type { Restic } from '../drivers/restic/restic.ts';

/** A dump restored into a scratch database beside the live one. */
export interface StagedDatabase {
  name: string;
  mismatches: Mismatch[];
  tables: number;
  rows: number;
}

/**
 * Streams the snapshot's dump (`restic dump`) into a new database `<db>__<purpose>` and
 * compares its tables with the manifest. Nothing is written to disk on the way.
 */
export async function stageDatabaseFromSnapshot(
  pg: PostgresDriver,
  restic: Restic,
  snapshot: string,
  recorded: DatabaseManifest,
  purpose: string,
): Promise<StagedDatabase> {
  const pipe = new PassThrough();
  const [dumped, restored] = await Promise.allSettled([
    restic.dump(snapshot, recorded.dump, pipe),
    pg.restoreToScratch(purpose, pipe, recorded),
  ]);
  if (dumped.status === 'rejected') {
    if (restored.status === 'fulfilled') await pg.dropDatabase(restored.value).catch(() => undefined);
    throw dumped.reason;
  }
  if (restored.status === 'rejected') throw restored.reason;
  const stats = await pg.tableStats(restored.value, recorded.checksum ?? 'md5', recorded.tables);
  return {
    name: restored.value,
    mismatches: compareTables(recorded.tables, stats),
    tables: stats.length,
    rows: stats.reduce((n, t) => n + t.rows, 0),
  };
}

/** Restores a dump file (custom format, gzipped or not) into `<db>__<purpose>`. */
export async function stageDatabaseFromFile(pg: PostgresDriver, file: string, purpose: string): Promise<string> {
  return pg.restoreToScratch(purpose, await openDump(file));
}

/** A dump file as a stream, gunzipped when it starts with gzip's magic bytes. */
export async function openDump(file: string): Promise<Readable> {
  const head = Buffer.alloc(5);
  const fh = await open(file, 'r').catch((err: unknown) => {
    throw new AgentError('DumpFileMissing', `cannot read the dump ${file}: ${(err as Error).message}`, {
      terminal: true,
      data: { file },
    });
  });
  try {
    await fh.read(head, 0, 5, 0);
  } finally {
    await fh.close();
  }
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  if (!gz && head.toString('latin1') !== 'PGDMP') {
    throw new AgentError('DumpFileInvalid', `${file} is not a pg_dump custom-format archive (or a gzip of one)`, {
      terminal: true,
      data: { file },
    });
  }
  const raw = createReadStream(file);
  return gz ? raw.pipe(createGunzip()) : raw;
}
