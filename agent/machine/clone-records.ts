import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { cloneDataDir } from '../core/clone-state.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import type { CloneRecord } from './clone-machine.ts';

const RECORD = 'clone.json';

/** The clone's record beside its volumes; undefined when it has none (not made, or half made). */
export async function readCloneRecord(dataRoot: string, name: string): Promise<CloneRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(cloneDataDir(dataRoot, name), RECORD), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  try {
    const r = JSON.parse(text) as CloneRecord;
    return r.name === name ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Written last, once the volumes are in place: a directory without it is a half-made clone. */
export async function writeCloneRecord(dataRoot: string, record: CloneRecord): Promise<void> {
  await writeFileAtomic(
    path.join(cloneDataDir(dataRoot, record.name), RECORD),
    `${JSON.stringify(record, null, 2)}\n`,
    {
      mode: 0o600,
    },
  );
}

/** Names of the clone directories under the data path. */
export async function cloneDirNames(dataRoot: string): Promise<string[]> {
  try {
    const entries = await readdir(path.dirname(cloneDataDir(dataRoot, 'x')), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
