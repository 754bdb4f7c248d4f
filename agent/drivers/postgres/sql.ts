import type { TableChecksum, TableStat } from '../../core/backup-manifest.ts';

/** A quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A quoted SQL string literal. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Ordinary tables outside PostgreSQL's own schemas (`c` in pg_class, `n` its namespace). */
const USER_TABLE_FILTER = `c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;
const USER_TABLES = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_TABLE_FILTER}`;

/**
 * The default "database is not empty" check: the number of user tables with at least one row
 * (exact, not the statistics' estimate, which is 0 after a restore).
 */
export const DEFAULT_NON_EMPTY_SQL = `WITH t AS MATERIALIZED (SELECT n.nspname AS s, c.relname AS r ${USER_TABLES})
SELECT count(*) FROM t WHERE query_to_xml(format('SELECT 1 AS x FROM %I.%I LIMIT 1', s, r), false, true, '')::text <> '';`;

/**
 * Built-in types whose extended hash functions hash_record_extended (PostgreSQL 14+) uses: a
 * table of these only is hashed as a row, several times faster than hashing its text.
 */
const ROW_HASHABLE = ['bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'text', 'varchar', 'bpchar']
  .concat(['name', 'char', 'oid', 'uuid', 'date', 'time', 'timestamp', 'timestamptz', 'interval', 'bytea', 'jsonb'])
  .map(literal)
  .join(', ');

/** The hash of one row `t` for each TableStat `hash`. */
const ROW_HASH = `CASE h.hash WHEN 'record' THEN 'hash_record_extended(t, 0)' ELSE 'hashtextextended(t::text, 0)' END`;

/** `record` where every column of table `c` has a type of ROW_HASHABLE, else `text`. */
const HASH_OF_TABLE = `CASE WHEN current_setting('server_version_num')::int >= 140000 AND NOT EXISTS (
    SELECT 1 FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      AND NOT (ty.typnamespace = 'pg_catalog'::regnamespace AND ty.typname IN (${ROW_HASHABLE})))
  THEN 'record' ELSE 'text' END`;

/**
 * Per user table: row count and an order-independent checksum of the rows (the sum of a 64-bit
 * hash of each row), one JSON line per table. Uses psql's \gexec. With `hash`, each table is
 * hashed the way `recorded` says (a restore is compared the way its backup was), else as
 * HASH_OF_TABLE chooses; `md5` is the checksum of older backups, the md5 of each row's text.
 */
export function tableStatsSql(checksum: TableChecksum, recorded: readonly TableStat[] = []): string {
  if (checksum === 'md5') {
    return `SELECT format(
  'SELECT json_build_object(''table'', %L, ''rows'', count(*), ''sum'', coalesce(sum((''x'' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0)::text)::text FROM %I.%I t',
  n.nspname || '.' || c.relname, n.nspname, c.relname)
${USER_TABLES}
ORDER BY n.nspname, c.relname
\\gexec`;
  }
  const known = recorded
    .filter((t) => t.hash !== undefined)
    .map((t) => `(${literal(t.table)}, ${literal(t.hash ?? '')})`);
  return `WITH recorded(name, hash) AS (VALUES ${known.length === 0 ? '(NULL::text, NULL::text)' : known.join(', ')})
SELECT format(
  'SELECT json_build_object(''table'', %L, ''rows'', count(*), ''sum'', coalesce(sum(%s), 0)::text, ''hash'', %L)::text FROM %I.%I t',
  n.nspname || '.' || c.relname, ${ROW_HASH}, h.hash, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT coalesce((SELECT r.hash FROM recorded r WHERE r.name = n.nspname || '.' || c.relname),
  ${HASH_OF_TABLE}) AS hash) h
WHERE ${USER_TABLE_FILTER}
ORDER BY n.nspname, c.relname
\\gexec`;
}

/** Encoding, collation and server version of the current database, as one JSON line. */
export const DATABASE_INFO_SQL = `SELECT json_build_object('encoding', pg_encoding_to_char(encoding), 'collate', datcollate,
  'ctype', datctype, 'serverVersion', current_setting('server_version'))::text
FROM pg_database WHERE datname = current_database();`;

/** Parses the lines of {@link tableStatsSql}. */
export function parseTableStats(lines: readonly string[]): TableStat[] {
  return lines
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      const o = JSON.parse(l) as TableStat;
      return { table: o.table, rows: o.rows, sum: o.sum, ...(o.hash === undefined ? {} : { hash: o.hash }) };
    });
}
