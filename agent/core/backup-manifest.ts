/**
 * The manifest a backup writes into its own snapshot (`/manifest.json`): what the database and
 * the files were at backup time, so a restore can be proven equal to it, not merely completed.
 */

/** Row count and an order-independent checksum of one table's rows. */
export interface TableStat {
  /** `schema.table` */
  table: string;
  rows: number;
  /** Sum of a 64-bit hash of each row (see TableChecksum), as a decimal string. */
  sum: string;
  /**
   * With checksum `hash`: `record` when the rows were hashed as rows (hash_record_extended,
   * for tables of common built-in types only), `text` when their text was hashed.
   */
  hash?: 'record' | 'text';
}

/**
 * How the sums of a manifest's tables were computed: `hash` with PostgreSQL's extended hash
 * functions (per table as TableStat `hash` says); `md5` (backups without the field) the first
 * 64 bits of the md5 of each row's text, many times slower for the same proof.
 */
export type TableChecksum = 'md5' | 'hash';

export interface DatabaseManifest {
  name: string;
  encoding: string;
  collate: string;
  ctype: string;
  serverVersion: string;
  /** Path of the dump in the snapshot, `/db/<name>.dump` (pg_dump custom format). */
  dump: string;
  dumpBytes: number;
  /** Taken in the same transaction snapshot as the dump. */
  tables: TableStat[];
  /** Absent in older backups: `md5`. */
  checksum?: TableChecksum;
}

export interface VolumeManifest {
  name: string;
  /** Host path at backup time: where the volume's files are in the snapshot. */
  path: string;
  files: number;
  bytes: number;
}

/** One regular file or symbolic link of a volume. */
export interface FileEntry {
  volume: string;
  /** Relative to the volume, `/`-separated. */
  path: string;
  size: number;
  /** sha256 of the content; for a symbolic link, of its target. */
  sha256: string;
  link?: boolean;
}

export interface BackupManifest {
  format: 1;
  appliance: string;
  revision: string;
  createdAt: string;
  database?: DatabaseManifest;
  volumes: VolumeManifest[];
  files: FileEntry[];
  /** True when `/env/env.yml` (the encrypted env.yml as in the config repo) is in the snapshot. */
  env: boolean;
}

/** Fixed places in a snapshot, beside the volumes' own host paths. */
export const SNAPSHOT_LAYOUT = {
  manifest: '/manifest.json',
  dbDir: '/db',
  env: '/env/env.yml',
} as const;

export function dumpPathOf(database: string): string {
  return `${SNAPSHOT_LAYOUT.dbDir}/${database}.dump`;
}

/** One difference between what was recorded and what was found. */
export interface Mismatch {
  kind: 'table' | 'file';
  /** `schema.table`, or `volume/path`. */
  name: string;
  expected: string;
  actual: string;
}

/** Compares table stats: every table with equal rows and checksum, and no extra tables. */
export function compareTables(expected: readonly TableStat[], actual: readonly TableStat[]): Mismatch[] {
  const out: Mismatch[] = [];
  const found = new Map(actual.map((t) => [t.table, t]));
  for (const e of expected) {
    const a = found.get(e.table);
    found.delete(e.table);
    if (a === undefined) out.push({ kind: 'table', name: e.table, expected: statText(e), actual: 'missing' });
    else if (a.rows !== e.rows || a.sum !== e.sum) {
      out.push({ kind: 'table', name: e.table, expected: statText(e), actual: statText(a) });
    }
  }
  for (const a of found.values()) out.push({ kind: 'table', name: a.table, expected: 'absent', actual: statText(a) });
  return out;
}

/** Compares file lists: same set of files with equal size and content hash. */
export function compareFiles(expected: readonly FileEntry[], actual: readonly FileEntry[]): Mismatch[] {
  const out: Mismatch[] = [];
  const key = (f: FileEntry): string => `${f.volume}/${f.path}`;
  const found = new Map(actual.map((f) => [key(f), f]));
  for (const e of expected) {
    const a = found.get(key(e));
    found.delete(key(e));
    if (a === undefined) out.push({ kind: 'file', name: key(e), expected: fileText(e), actual: 'missing' });
    else if (a.sha256 !== e.sha256 || a.size !== e.size || (a.link ?? false) !== (e.link ?? false)) {
      out.push({ kind: 'file', name: key(e), expected: fileText(e), actual: fileText(a) });
    }
  }
  for (const a of found.values()) out.push({ kind: 'file', name: key(a), expected: 'absent', actual: fileText(a) });
  return out;
}

/** Checks a parsed manifest's shape enough to rely on it; a message when it is not one. */
export function manifestProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return 'not an object';
  const m = value as Partial<BackupManifest>;
  if (m.format !== 1) return `unknown format ${String(m.format)}`;
  if (!Array.isArray(m.volumes) || !Array.isArray(m.files)) return 'volumes or files missing';
  if (m.database !== undefined && !Array.isArray(m.database.tables)) return 'database tables missing';
  return undefined;
}

function statText(t: TableStat): string {
  return `${t.rows} rows, sum ${t.sum}`;
}

function fileText(f: FileEntry): string {
  return `${f.link === true ? 'link' : `${f.size} bytes`} sha256 ${f.sha256.slice(0, 16)}`;
}
