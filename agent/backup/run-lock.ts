import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BackupJob } from '../core/backup-status.ts';
import { AgentError } from '../core/errors.ts';

/** Who holds the backup lock. */
export interface LockHolder {
  pid: number;
  job: BackupJob;
  startedAt: string;
  /**
   * The holder's process as /proc knows it: this boot's id and when the process started. A pid
   * alone can name another process after a reboot (services start in the same order, so even
   * the agent itself) or a crash; locks written before these fields go by the pid alone.
   */
  boot?: string;
  processStart?: string;
}

/**
 * One backup job at a time on this machine, across processes (the agent's scheduler and
 * `appliance backup …` on the command line): a lock file created exclusively. A lock whose
 * process is gone (killed, crashed) is stale and taken over.
 */
export async function acquireRunLock(
  dir: string,
  job: BackupJob,
  now: Date,
): Promise<{ release: () => Promise<void>; tookOverStale: boolean }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'run.lock');
  const me: LockHolder = { pid: process.pid, job, startedAt: now.toISOString(), ...(await identity(process.pid)) };
  let tookOverStale = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(me)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const release = async (): Promise<void> => {
        const holder = await readHolder(file);
        if (holder?.pid === process.pid) await rm(file, { force: true });
      };
      return { release, tookOverStale };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readHolder(file);
    const live = holder !== undefined && (await alive(holder));
    if (live && holder.pid !== process.pid) {
      throw new AgentError('BackupBusy', `another backup job (${holder.job}, pid ${holder.pid}) is running`, {
        data: { ...holder },
      });
    }
    if (live) {
      throw new AgentError('BackupBusy', `this process is already running a backup job (${holder.job})`, {
        data: { ...holder },
      });
    }
    await rm(file, { force: true });
    tookOverStale = true;
  }
  throw new AgentError('BackupBusy', 'could not take the backup lock');
}

/** The current holder of the lock in `dir`, if any (for status). */
export async function lockHolder(dir: string): Promise<LockHolder | undefined> {
  const holder = await readHolder(path.join(dir, 'run.lock'));
  return holder !== undefined && (await alive(holder)) ? holder : undefined;
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || typeof v.job !== 'string') return undefined;
    const holder: LockHolder = { pid: v.pid, job: v.job, startedAt: String(v.startedAt) };
    if (typeof v.boot === 'string' && typeof v.processStart === 'string') {
      holder.boot = v.boot;
      holder.processStart = v.processStart;
    }
    return holder;
  } catch {
    // Missing, or half-written by a process that died while creating it: both are stale.
    return undefined;
  }
}

/** Whether the holder still runs: the same process of this boot, not a zombie (which is dead). */
async function alive(holder: LockHolder): Promise<boolean> {
  // This process writes its identity: a lock of its pid without one is an earlier process's.
  if (holder.pid === process.pid && holder.boot === undefined) return false;
  const now = await identity(holder.pid);
  if (now !== undefined) {
    if (now.processStart === undefined) return false;
    if (holder.boot === undefined) return true;
    return holder.boot === now.boot && holder.processStart === now.processStart;
  }
  // No /proc: the pid alone.
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * This boot's id and the process's start time (clock ticks since boot, /proc/<pid>/stat field
 * 22); `processStart` is undefined when the process is gone or a zombie. Undefined without /proc.
 */
async function identity(pid: number): Promise<{ boot: string; processStart?: string } | undefined> {
  let boot: string;
  try {
    boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return undefined;
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? { boot } : { boot, processStart: fields[19] ?? '' };
  } catch {
    return { boot };
  }
}
