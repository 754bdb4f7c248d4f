/** restic's `--json` output (0.14+), parsed into the agent's shapes. */

/** A progress line of `restic backup --json`. */
export interface ResticProgress {
  percentDone: number;
  secondsElapsed: number;
  totalFiles: number;
  filesDone: number;
  totalBytes: number;
  bytesDone: number;
}

/** The summary line of `restic backup --json`. */
export interface ResticBackupSummary {
  snapshotId: string;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dataAdded: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  totalDuration: number;
}

/** One snapshot as `restic snapshots --json` lists it. */
export interface ResticSnapshot {
  id: string;
  shortId: string;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
}

type Json = Record<string, unknown>;

function num(o: Json, key: string): number {
  const v = o[key];
  return typeof v === 'number' ? v : 0;
}

function str(o: Json, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : '';
}

function parseObject(line: string): Json | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** What one line of `restic backup --json` says; undefined for lines that are not JSON messages. */
export type BackupLine =
  | { kind: 'status'; progress: ResticProgress }
  | { kind: 'summary'; summary: ResticBackupSummary }
  | { kind: 'error'; item: string; message: string };

export function parseBackupLine(line: string): BackupLine | undefined {
  const o = parseObject(line);
  switch (o?.['message_type']) {
    case 'status':
      return {
        kind: 'status',
        progress: {
          percentDone: num(o, 'percent_done'),
          secondsElapsed: num(o, 'seconds_elapsed'),
          totalFiles: num(o, 'total_files'),
          filesDone: num(o, 'files_done'),
          totalBytes: num(o, 'total_bytes'),
          bytesDone: num(o, 'bytes_done'),
        },
      };
    case 'summary':
      return {
        kind: 'summary',
        summary: {
          snapshotId: str(o, 'snapshot_id'),
          filesNew: num(o, 'files_new'),
          filesChanged: num(o, 'files_changed'),
          filesUnmodified: num(o, 'files_unmodified'),
          dataAdded: num(o, 'data_added'),
          totalFilesProcessed: num(o, 'total_files_processed'),
          totalBytesProcessed: num(o, 'total_bytes_processed'),
          totalDuration: num(o, 'total_duration'),
        },
      };
    case 'error': {
      const err = o['error'];
      const message = err !== null && typeof err === 'object' ? str(err as Json, 'message') : String(err);
      return { kind: 'error', item: str(o, 'item'), message };
    }
    default:
      return undefined;
  }
}

/** Parses `restic snapshots --json`, oldest first. */
export function parseSnapshots(stdout: string): ResticSnapshot[] {
  const raw: unknown = JSON.parse(stdout.trim() === '' ? '[]' : stdout);
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((s): s is Json => s !== null && typeof s === 'object')
    .map((s) => ({
      id: str(s, 'id'),
      shortId: str(s, 'short_id') || str(s, 'id').slice(0, 8),
      time: str(s, 'time'),
      hostname: str(s, 'hostname'),
      paths: Array.isArray(s['paths']) ? s['paths'].filter((p): p is string => typeof p === 'string') : [],
      tags: Array.isArray(s['tags']) ? s['tags'].filter((t): t is string => typeof t === 'string') : [],
    }))
    .sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

/** The ids `restic forget --json` keeps and removes (over all groups). */
export function parseForget(stdout: string): { keep: string[]; remove: string[] } {
  const keep: string[] = [];
  const remove: string[] = [];
  // With --prune, restic prints the JSON array first and then prune's text.
  const line = stdout.split('\n').find((l) => l.startsWith('['));
  const raw: unknown = line === undefined ? [] : JSON.parse(line);
  if (!Array.isArray(raw)) return { keep, remove };
  for (const group of raw) {
    if (group === null || typeof group !== 'object') continue;
    const g = group as Json;
    for (const [key, out] of [
      ['keep', keep],
      ['remove', remove],
    ] as const) {
      const list = g[key];
      if (Array.isArray(list)) {
        for (const s of list) if (s !== null && typeof s === 'object') out.push(str(s as Json, 'id'));
      }
    }
  }
  return { keep, remove };
}

/** The value of a `key=value` tag, e.g. `revision` of `revision=abc`. */
export function tagValue(tags: readonly string[], key: string): string | undefined {
  const tag = tags.find((t) => t.startsWith(`${key}=`));
  return tag?.slice(key.length + 1);
}
