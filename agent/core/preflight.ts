import type { RemoteRef } from './review-refs.ts';

/** What became of one review head (a commit), as remembered in the pre-flight state file. */
export type HeadRecord =
  /** There before pre-flight first looked: never tried (push again to have it tried). */
  | { result: 'existing'; ref: string; at: string }
  /** Changes nothing of this appliance. */
  | { result: 'unchanged'; ref: string; at: string }
  /** Refused by the trust rules; `message` says why. */
  | { result: 'not-tried'; ref: string; at: string; code: string; message: string }
  /** Failed for a reason that may pass (yielded to production, Docker unreachable): tried again. */
  | { result: 'retry'; ref: string; at: string; attempts: number; code: string; message: string }
  | {
      result: 'passed' | 'failed';
      ref: string;
      at: string;
      /** How long the migration took on the clone: the downtime the real update will have. */
      migrationMs?: number;
      /** The last lines of the smoke test's output. */
      smokeTail?: string;
      code?: string;
      message: string;
    };

/** The pre-flight state file: results per head commit. */
export interface PreflightState {
  version: 1;
  /** Set once the first listing was taken as the baseline. */
  baselineAt?: string;
  heads: Record<string, HeadRecord>;
}

/** How often a head is tried again after transient failures before it counts as failed. */
export const MAX_ATTEMPTS = 3;

/** What to do with a listed head. */
export type HeadDecision = 'baseline' | 'known' | 'check';

/** Heads to look at: none on the first listing (the baseline), else the new ones and those to retry. */
export function decideHeads(state: PreflightState, heads: readonly RemoteRef[]): Map<string, HeadDecision> {
  const out = new Map<string, HeadDecision>();
  for (const h of heads) {
    const known = state.heads[h.oid];
    if (state.baselineAt === undefined) out.set(h.oid, 'baseline');
    else if (known === undefined || (known.result === 'retry' && known.attempts < MAX_ATTEMPTS))
      out.set(h.oid, 'check');
    else out.set(h.oid, 'known');
  }
  return out;
}

/** The state with only the heads still listed (a closed pull request is forgotten). */
export function keepListed(state: PreflightState, heads: readonly RemoteRef[]): PreflightState {
  const listed = new Set(heads.map((h) => h.oid));
  return { ...state, heads: Object.fromEntries(Object.entries(state.heads).filter(([oid]) => listed.has(oid))) };
}

/** A commit status to post on a head: context `appliance/<name>/preflight`. */
export interface PreflightStatus {
  state: 'pending' | 'success' | 'failure' | 'error';
  description: string;
}

/** Seconds with one decimal, for descriptions. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The last non-empty line of an output (forges show one short line). */
export function lastLine(text: string | undefined): string {
  const lines = (text ?? '').split('\n').map((l) => l.trim());
  return lines.filter((l) => l !== '').pop() ?? '';
}

/** The commit status a head's record means (undefined: none is posted). */
export function preflightStatus(record: HeadRecord): PreflightStatus | undefined {
  switch (record.result) {
    case 'existing':
    case 'unchanged':
      return undefined;
    case 'not-tried':
      return { state: 'failure', description: `Not tried: ${record.message}` };
    case 'retry':
      return { state: 'pending', description: `Will be tried again: ${record.message}` };
    case 'passed': {
      const migration =
        record.migrationMs === undefined ? 'no migration' : `migration ${seconds(record.migrationMs)} (downtime)`;
      const smoke = record.smokeTail === undefined ? '' : `smoke test: ${lastLine(record.smokeTail)}`;
      return { state: 'success', description: `Passed: ${[migration, smoke].filter((x) => x !== '').join('; ')}` };
    }
    case 'failed':
      return { state: 'failure', description: `Failed: ${failedWhat(record.code)}: ${lastPart(record.message)}` };
  }
}

/** What failed, in a word or two (forges show 140 characters; the whole message is in /status). */
function failedWhat(code: string | undefined): string {
  switch (code) {
    case 'MigrationFailed':
      return 'migration';
    case 'SmokeTestFailed':
      return 'smoke test';
    case 'HealthCheckFailed':
    case 'ContainerNotHealthy':
      return 'health check';
    case 'ConfigInvalid':
      return 'invalid config';
    default:
      return code ?? 'error';
  }
}

/** The last line (or ` | `-joined part of a command's output tail) of a message: where the error is. */
function lastPart(message: string): string {
  return lastLine(message.split(' | ').join('\n'));
}

/** The status posted while a head is being tried. */
export const RUNNING_STATUS: PreflightStatus = { state: 'pending', description: 'Pre-flight running on a clone' };

/** One pre-flight as /status shows it. */
export type PreflightView = HeadRecord & { commit: string };

/** The heads that were tried or refused, newest first (the baseline and unchanged heads left out). */
export function preflightView(state: PreflightState): PreflightView[] {
  return Object.entries(state.heads)
    .filter(([, r]) => r.result !== 'existing' && r.result !== 'unchanged')
    .map(([commit, r]) => ({ commit, ...r }))
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}

/** The status as served with the pre-flights of review heads (none: unchanged). */
export function withPreflight<S extends object>(status: S, state: PreflightState): S & { preflight?: PreflightView[] } {
  const view = preflightView(state);
  return view.length === 0 ? status : { ...status, preflight: view };
}
