import type { TableChecksum, TableStat } from '../../core/backup-manifest.ts';

/** A quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A quoted SQL string literal. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Ordinary tables outside PostgreSQL's own schemas. */
const USER_TABLES = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

/**
 * The default "database is not empty" check: the number of user tables with at least one row
 * (exact, not the statistics' estimate, which is 0 after a restore).
 */
export const DEFAULT_NON_EMPTY_SQL = `WITH t AS MATERIALIZED (SELECT n.nspname AS s, c.relname AS r ${USER_TABLES})
SELECT count(*) FROM t WHERE query_to_xml(format('SELECT 1 AS x FROM %I.%I LIMIT 1', s, r), false, true, '')::text <> '';`;

/** Per-row 64-bit hash of each checksum kind, over the row's text `t::text`. */
const ROW_HASH: Record<TableChecksum, string> = {
  md5: "(''x'' || substr(md5(t::text), 1, 16))::bit(64)::bigint",
  hashtext: 'hashtextextended(t::text, 0)',
};

/**
 * Per user table: row count and an order-independent checksum of the rows (the sum of a 64-bit
 * hash of each row's text), one JSON line per table. Uses psql's \gexec.
 */
export function tableStatsSql(checksum: TableChecksum): string {
  return `SELECT format(
  'SELECT json_build_object(''table'', %L, ''rows'', count(*), ''sum'', coalesce(sum(${ROW_HASH[checksum]}), 0)::text)::text FROM %I.%I t',
  n.nspname || '.' || c.relname, n.nspname, c.relname)
${USER_TABLES}
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
      const o = JSON.parse(l) as { table: string; rows: number; sum: string };
      return { table: o.table, rows: o.rows, sum: o.sum };
    });
}
