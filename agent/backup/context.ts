import path from 'node:path';
import { DockerClient } from '../drivers/docker/client.ts';
import type { BackupJob } from '../core/backup-status.ts';
import { jobEnded, jobStarted } from '../core/backup-status.ts';
import type { BackupTarget } from '../core/backup-target.ts';
import { AgentError } from '../core/errors.ts';
import { PostgresDriver } from '../drivers/postgres/postgres.ts';
import { Restic } from '../drivers/restic/restic.ts';
import type { Logger } from '../lib/log.ts';
import type { SecretRegistry } from '../lib/secrets.ts';
import { acquireRunLock } from './run-lock.ts';
import { BackupStatusStore } from './status-store.ts';

/** Takes a snapshot of the appliance's current data (btrfs in production) and returns its name. */
export interface StateSnapshotter {
  snapshot(kind: 'PRE_RESTORE', label: string): Promise<string>;
}

/** Stops and starts the app's containers (not the database) around a restore. */
export interface AppControl {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** What every backup flow works with; made by {@link createBackupContext}, or by tests. */
export interface BackupContext {
  target: BackupTarget;
  /** `<stateDir>/backup`: lock, status, staging, caches. */
  dir: string;
  /** Absent when env.yml has no backup repository. */
  restic?: Restic;
  /** Absent when the app has no database. */
  postgres?: PostgresDriver;
  log: Logger;
  now: () => Date;
  status: BackupStatusStore;
}

export interface BackupContextOptions {
  /** The agent's state directory. */
  stateDir: string;
  log: Logger;
  docker?: DockerClient;
  resticBin?: string;
  /** Receives the repository's secrets, for log scrubbing. */
  secrets?: SecretRegistry;
  now?: () => Date;
}

/** Builds the drivers for a target: restic for its repository, PostgreSQL in its database container. */
export function createBackupContext(target: BackupTarget, options: BackupContextOptions): BackupContext {
  const dir = path.join(options.stateDir, 'backup');
  const ctx: BackupContext = {
    target,
    dir,
    log: options.log.child({ component: 'backup' }),
    now: options.now ?? (() => new Date()),
    status: new BackupStatusStore(dir),
  };
  if (target.repository !== undefined) {
    const repo = target.repository;
    ctx.restic = new Restic(
      { repository: repo.repository, password: repo.password, env: repo.env, knownHosts: repo.knownHosts },
      {
        cacheDir: path.join(dir, 'restic-cache'),
        keyMemo: path.join(dir, 'restic-key.json'),
        timezone: target.timezone,
        ...(options.resticBin === undefined ? {} : { bin: options.resticBin }),
        ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
      },
    );
  }
  if (target.database !== undefined) {
    const db = target.database;
    ctx.postgres = new PostgresDriver({
      docker: options.docker ?? new DockerClient(),
      container: db.container,
      database: db.name,
      user: db.user,
      password: db.password,
      ...(db.dumpDir === undefined ? {} : { dumpDir: db.dumpDir }),
    });
  }
  return ctx;
}

/** The restic driver, or `BackupNotConfigured` (terminal) when env.yml has no backup. */
export function requireRestic(ctx: BackupContext): Restic {
  if (ctx.restic === undefined) {
    throw new AgentError('BackupNotConfigured', `${ctx.target.appliance}: env.yml has no backup repository`, {
      terminal: true,
    });
  }
  return ctx.restic;
}

/** Runs a job under the run lock with `running` set in the status; `fn` records the outcome. */
export async function withJob<T>(ctx: BackupContext, job: BackupJob, fn: () => Promise<T>): Promise<T> {
  const { release, tookOverStale } = await acquireRunLock(ctx.dir, job, ctx.now());
  try {
    // A job killed before this one may have left restic's lock too: it would block prune and check.
    if (tookOverStale) await ctx.restic?.unlock();
    await ctx.status.update(ctx.now(), (s) => jobStarted(s, job, process.pid, ctx.now()));
    try {
      return await fn();
    } finally {
      await ctx.status.update(ctx.now(), (s) => (s.running?.pid === process.pid ? jobEnded(s) : s));
    }
  } finally {
    await release();
  }
}

/** Paths under the backup directory. */
export function backupPaths(dir: string): { staging: string; hashes: string; scratch: string } {
  return {
    staging: path.join(dir, 'staging'),
    hashes: path.join(dir, 'file-hashes.json'),
    scratch: path.join(dir, 'scratch'),
  };
}
