import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { MigrationRecord } from '../core/actual.ts';
import { AgentError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';

/**
 * What the agent remembers about the database's migrations (`<stateDir>/migrations.json`):
 * the image the database is migrated to (`current`, changed exactly when the database changes),
 * the migration state of every image that was current once (a downgrade reverse-migrates to
 * it), and the snapshots restored for downgrades (each at most once).
 */
export interface MigrationRecords {
  owner: string;
  current?: MigrationRecord;
  images: MigrationRecord[];
  restored: string[];
}

const FILE = 'migrations.json';
const KEEP = 50;

/** The records of `owner` (empty when there are none, or they are another owner's). */
export async function readMigrationRecords(stateDir: string, owner: string): Promise<MigrationRecords> {
  let text: string;
  try {
    text = await readFile(path.join(stateDir, FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { owner, images: [], restored: [] };
    throw err;
  }
  let rec: MigrationRecords;
  try {
    rec = JSON.parse(text) as MigrationRecords;
  } catch (err) {
    throw new AgentError('MigrationRecordsUnreadable', `${stateDir}/${FILE} is not JSON`, { cause: err });
  }
  return rec.owner === owner ? rec : { owner, images: [], restored: [] };
}

/** Writes the records atomically (0600). */
export async function writeMigrationRecords(stateDir: string, records: MigrationRecords): Promise<void> {
  await writeFileAtomic(path.join(stateDir, FILE), `${JSON.stringify(records, null, 2)}\n`, { mode: 0o600 });
}

/** Reads, changes and writes the records (one apply at a time, so no lock). */
export async function updateMigrationRecords(
  stateDir: string,
  owner: string,
  change: (r: MigrationRecords) => MigrationRecords,
): Promise<MigrationRecords> {
  const next = change(await readMigrationRecords(stateDir, owner));
  await writeMigrationRecords(stateDir, next);
  return next;
}

/** The records with `current` set (or cleared), and the image's state kept for later downgrades. */
export function withCurrent(records: MigrationRecords, current: MigrationRecord | undefined): MigrationRecords {
  const { current: _old, ...rest } = records;
  if (current === undefined) return rest;
  const images = [...records.images.filter((r) => r.imageId !== current.imageId), current].slice(-KEEP);
  return { ...rest, current, images };
}

/** The record of an image, by id or reference. */
export function recordOf(records: MigrationRecords, image: { id?: string; ref?: string }): MigrationRecord | undefined {
  return [...records.images]
    .reverse()
    .find(
      (r) =>
        (image.id !== undefined && r.imageId === image.id) || (image.ref !== undefined && r.imageRef === image.ref),
    );
}
