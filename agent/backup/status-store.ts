import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { initialBackupStatus, type BackupStatus } from '../core/backup-status.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';

/** File of the backup status under the backup directory. */
export const STATUS_FILE = 'status.json';

/**
 * The backup status on disk (`<stateDir>/backup/status.json`), shared by the agent and the CLI;
 * writes are atomic, so a reader never sees half a file. Writers hold the run lock.
 */
export class BackupStatusStore {
  constructor(private readonly dir: string) {}

  get file(): string {
    return path.join(this.dir, STATUS_FILE);
  }

  /** The stored status, or a fresh one (not written) when there is none. */
  async read(now: Date): Promise<BackupStatus> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as BackupStatus;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) {
        return initialBackupStatus(now);
      }
      throw err;
    }
  }

  async update(now: Date, fn: (status: BackupStatus) => BackupStatus): Promise<BackupStatus> {
    const next = fn(await this.read(now));
    await writeFileAtomic(this.file, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    return next;
  }
}
