import type { Writable } from 'node:stream';
import { AgentError, isAgentError } from '../../core/errors.ts';
import { run, runStreaming } from '../../lib/exec.ts';
import { SecretRegistry } from '../../lib/secrets.ts';
import {
  parseBackupLine,
  parseForget,
  parseSnapshots,
  type ResticBackupSummary,
  type ResticProgress,
  type ResticSnapshot,
} from './output.ts';
import { classifyResticError, withResticEnv } from './env.ts';
import { memoOpens, rememberKey } from './key-memo.ts';
import type { ResticOptions, ResticRepository } from './repository.ts';

/** Where a restic repository is and how to open it: env.yml `backup`. All of it is secret. */
export type { ResticOptions, ResticRepository } from './repository.ts';

/** What to back up and how to label it. */
export interface BackupRequest {
  /** Paths relative to `cwd` are stored relative to the snapshot root (`db` → `/db`). */
  paths: readonly string[];
  cwd: string;
  /** Snapshot host name: the appliance, so a replacement machine continues the same history. */
  host: string;
  tags: readonly string[];
  /** restic --exclude patterns. */
  excludes?: readonly string[];
  /** Backdates the snapshot (tests of retention). */
  time?: Date;
  onProgress?: (progress: ResticProgress) => void;
  /** Files restic could not read (the snapshot is then incomplete and the backup fails). */
  onError?: (item: string, message: string) => void;
  signal?: AbortSignal;
}

/** Retention: restic forget's keep-* rules. */
export interface KeepPolicy {
  /** The newest snapshots, kept whatever the other rules say. */
  last: number;
  daily: number;
  weekly: number;
  monthly: number;
}

/** A snapshot filter: restic's --host and --tag (all tags must match). */
export interface SnapshotFilter {
  host?: string;
  tags?: readonly string[];
}

/** The result of `restic check`. */
export interface CheckResult {
  ok: boolean;
  /** restic's report (errors found), secrets removed. */
  output: string;
}

/**
 * The restic command line as a driver: every call gets the repository, password and extra
 * environment through the environment (never argv), and every error has them removed.
 */
export class Restic {
  private readonly bin: string;
  private readonly secrets: SecretRegistry;

  constructor(
    private readonly repo: ResticRepository,
    private readonly options: ResticOptions = {},
  ) {
    this.bin = options.bin ?? 'restic';
    this.secrets = options.secrets ?? new SecretRegistry();
    const values = [repo.repository, repo.password, ...Object.values(repo.env ?? {})];
    // A URL's password part is masked on its own, in case restic prints the URL rewritten.
    const userinfo = /:\/\/[^/@:]*:([^@/]+)@/.exec(repo.repository)?.[1];
    if (userinfo !== undefined) values.push(userinfo, decodeURIComponent(userinfo));
    this.secrets.add(...values);
  }

  /** Removes every secret of the repository from a text. */
  scrub(text: string): string {
    return this.secrets.scrub(text);
  }

  /**
   * True when a repository answers at the location with this password; false when there is
   * none. Removes stale locks on the way (`restic unlock`: only locks of processes that are gone),
   * so a run killed earlier never blocks the jobs after it. A local repository with no lock whose
   * config and key file are as when this password last opened it is not asked again (keyMemo).
   */
  async exists(): Promise<boolean> {
    const memo = this.options.keyMemo;
    if (memo !== undefined && (await memoOpens(memo, this.repo.repository, this.repo.password))) return true;
    try {
      await this.exec(['unlock']);
    } catch (err) {
      const failure = this.classify(err, 'open the backup repository');
      if (failure.code === 'BackupRepositoryMissing') return false;
      throw failure;
    }
    await this.remember();
    return true;
  }

  /** Creates the repository unless it exists; true when it was created. */
  async init(): Promise<boolean> {
    if (await this.exists()) return false;
    await this.exec(['init']).catch((err: unknown) => {
      throw this.classify(err, 'create the backup repository');
    });
    await this.remember();
    return true;
  }

  /** Notes which key file the password opened, for {@link exists}; the memo is only a shortcut. */
  private async remember(): Promise<void> {
    const memo = this.options.keyMemo;
    if (memo === undefined) return;
    try {
      // With several keys only restic knows which one opened (one more key derivation, once).
      await rememberKey(memo, this.repo.repository, this.repo.password, async () =>
        parseCurrentKey(await this.exec(['key', 'list', '--json'])),
      );
    } catch {
      // Without a memo the next run asks restic again.
    }
  }

  /** `restic backup --json`; throws when restic fails or could not read some files. */
  async backup(req: BackupRequest): Promise<ResticBackupSummary> {
    return this.retryStale(() => this.backupOnce(req));
  }

  private async backupOnce(req: BackupRequest): Promise<ResticBackupSummary> {
    const args = ['backup', '--json', '--host', req.host];
    for (const tag of req.tags) args.push('--tag', tag);
    for (const pattern of req.excludes ?? []) args.push('--exclude', pattern);
    if (req.time !== undefined) args.push('--time', resticTime(req.time));
    args.push('--', ...req.paths);
    let summary: ResticBackupSummary | undefined;
    const unreadable: string[] = [];
    try {
      await this.stream(args, {
        cwd: req.cwd,
        extraEnv: {
          ...(req.onProgress === undefined ? {} : { RESTIC_PROGRESS_FPS: '2' }),
          // --time is read in the local zone: make that UTC for this call.
          ...(req.time === undefined ? {} : { TZ: 'UTC' }),
        },
        ...(req.signal === undefined ? {} : { signal: req.signal }),
        onLine: (line) => {
          const parsed = parseBackupLine(line);
          if (parsed?.kind === 'summary') summary = parsed.summary;
          else if (parsed?.kind === 'status') req.onProgress?.(parsed.progress);
          else if (parsed?.kind === 'error') {
            unreadable.push(parsed.item);
            req.onError?.(parsed.item, this.scrub(parsed.message));
          }
        },
      });
    } catch (err) {
      throw this.classify(err, 'back up', unreadable.length > 0 ? { unreadable: unreadable.slice(0, 20) } : {});
    }
    if (summary === undefined) {
      throw new AgentError('ResticOutputUnexpected', 'restic backup ended without a summary');
    }
    return summary;
  }

  /** Snapshots matching the filter, oldest first. */
  async snapshots(filter: SnapshotFilter = {}): Promise<ResticSnapshot[]> {
    const out = await this.retryStale(() =>
      this.exec(['snapshots', '--json', ...filterArgs(filter)]).catch((err: unknown) => {
        throw this.classify(err, 'list snapshots');
      }),
    );
    return parseSnapshots(out);
  }

  /** Applies the keep rules to the filtered snapshots (one group per host) and prunes unused data. */
  async forget(policy: KeepPolicy, filter: SnapshotFilter): Promise<{ keep: string[]; remove: string[] }> {
    const args = ['forget', '--json', '--group-by', 'host', ...filterArgs(filter)];
    args.push('--keep-last', String(policy.last));
    args.push('--keep-daily', String(policy.daily), '--keep-weekly', String(policy.weekly));
    args.push('--keep-monthly', String(policy.monthly), '--prune');
    const out = await this.retryStale(() =>
      this.exec(args).catch((err: unknown) => {
        throw this.classify(err, 'apply retention');
      }),
    );
    return parseForget(out);
  }

  /** `restic check`; `readDataSubset` (e.g. `10%`, `1/5`) also reads that part of the data. */
  async check(options: { readDataSubset?: string; signal?: AbortSignal } = {}): Promise<CheckResult> {
    const args = ['check'];
    if (options.readDataSubset !== undefined) args.push(`--read-data-subset=${options.readDataSubset}`);
    const lines: string[] = [];
    try {
      const r = await this.stream(args, {
        okCodes: [0, 1],
        onLine: (l) => lines.push(l),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      const output = this.scrub([...lines, r.stderr].join('\n')).trim();
      if (r.exitCode === 0) return { ok: true, output };
      if (/repository contains errors|error for tree|Pack ID does not match|ciphertext verification/i.test(output)) {
        return { ok: false, output: reportOf(output) };
      }
      throw new AgentError('ResticCheckFailed', `restic check could not run: ${reportOf(output)}`);
    } catch (err) {
      throw this.classify(err, 'check the backup repository');
    }
  }

  /** Restores a snapshot (or the `include`d parts) under `target`, keeping the snapshot's paths. */
  async restore(snapshot: string, target: string, include: readonly string[] = []): Promise<void> {
    const args = ['restore', snapshot, '--target', target];
    for (const p of include) args.push('--include', p);
    await this.retryStale(() =>
      this.stream(args, { onLine: () => undefined }).catch((err: unknown) => {
        throw this.classify(err, `restore snapshot ${snapshot}`);
      }),
    );
  }

  /** Writes one file of a snapshot to `out` (streamed, not buffered). */
  async dump(snapshot: string, file: string, out: Writable, signal?: AbortSignal): Promise<void> {
    await this.stream(['dump', snapshot, file], { stdout: out, ...(signal === undefined ? {} : { signal }) }).catch(
      (err: unknown) => {
        throw this.classify(err, `read ${file} from snapshot ${snapshot}`);
      },
    );
  }

  /**
   * Runs a restic call again after removing stale locks when it met a lock: a prune or check
   * killed earlier leaves an exclusive lock that would block every later call.
   */
  private async retryStale<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!isAgentError(err, 'BackupRepositoryLocked')) throw err;
      await this.unlock();
      return fn();
    }
  }

  /** Removes stale locks only (left by killed runs); live locks of running processes stay. */
  async unlock(): Promise<void> {
    await this.exec(['unlock']).catch((err: unknown) => {
      throw this.classify(err, 'remove stale locks');
    });
  }

  private async exec(args: string[]): Promise<string> {
    return this.withEnv(
      async (env, pre) => (await run(this.bin, [...pre, ...args], { env, timeoutMs: 6 * 3600_000 })).stdout,
    );
  }

  private async stream(
    args: string[],
    o: {
      cwd?: string;
      extraEnv?: Record<string, string>;
      signal?: AbortSignal;
      okCodes?: readonly number[];
      onLine?: (line: string) => void;
      stdout?: Writable;
    },
  ): Promise<{ exitCode: number; stderr: string }> {
    return this.withEnv((env, pre) =>
      runStreaming(this.bin, [...pre, ...args], {
        env: { ...env, ...o.extraEnv },
        scrub: (t) => this.scrub(t),
        ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
        ...(o.signal === undefined ? {} : { signal: o.signal }),
        ...(o.okCodes === undefined ? {} : { okCodes: o.okCodes }),
        ...(o.onLine === undefined ? {} : { onLine: o.onLine }),
        ...(o.stdout === undefined ? {} : { stdout: o.stdout }),
      }),
    );
  }

  /** The environment of one restic call (see {@link withResticEnv}). */
  private withEnv<T>(fn: (env: Record<string, string>, globalArgs: string[]) => Promise<T>): Promise<T> {
    return withResticEnv(this.repo, this.options, fn);
  }

  /** An AgentError with the secrets removed and a code that says what went wrong. */
  private classify(err: unknown, what: string, data: Record<string, unknown> = {}): AgentError {
    return classifyResticError(err, what, this.secrets, data);
  }
}

/** The id (a prefix of its file name) of the key that opened, from `restic key list --json`. */
function parseCurrentKey(out: string): string | undefined {
  const keys = JSON.parse(out) as { current?: boolean; id?: string }[];
  const id = keys.find((k) => k.current === true)?.id;
  return id !== undefined && /^[0-9a-f]{8,64}$/.test(id) ? id : undefined;
}

function filterArgs(filter: SnapshotFilter): string[] {
  const args: string[] = [];
  if (filter.host !== undefined) args.push('--host', filter.host);
  // One --tag with a comma list means "all of these".
  if (filter.tags !== undefined && filter.tags.length > 0) args.push('--tag', filter.tags.join(','));
  return args;
}

/** restic's --time format in UTC (the call runs with TZ=UTC). */
function resticTime(at: Date): string {
  return at
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');
}

/** restic check's error lines, without the progress chatter. */
function reportOf(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) => l !== '' && !/^(using temporary cache|create exclusive lock|load indexes|check |read all data|\[)/.test(l),
    );
  const text = lines.join('\n');
  return text.length > 4000 ? `${text.slice(0, 4000)}…` : text;
}
