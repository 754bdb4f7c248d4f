import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BackupJob } from '../core/backup-status.ts';
import { AgentError } from '../core/errors.ts';

/** Who holds the backup lock. */
export interface LockHolder {
  pid: number;
  job: BackupJob;
  startedAt: string;
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
  const me: LockHolder = { pid: process.pid, job, startedAt: now.toISOString() };
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
    if (holder !== undefined && holder.pid !== process.pid && alive(holder.pid)) {
      throw new AgentError('BackupBusy', `another backup job (${holder.job}, pid ${holder.pid}) is running`, {
        data: { ...holder },
      });
    }
    if (holder?.pid === process.pid) {
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
  return holder !== undefined && alive(holder.pid) ? holder : undefined;
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as Partial<LockHolder>;
    return typeof v.pid === 'number' && typeof v.job === 'string'
      ? { pid: v.pid, job: v.job, startedAt: String(v.startedAt) }
      : undefined;
  } catch {
    // Missing, or half-written by a process that died while creating it: both are stale.
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
