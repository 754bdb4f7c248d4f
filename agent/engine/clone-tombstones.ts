import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-write.ts';

/** appliance.yml clone entries whose clone expired: name → when that clone was made. */
export type ExpiredClones = Record<string, string>;

function file(stateDir: string): string {
  return path.join(stateDir, 'clones', 'expired.json');
}

/** The expired entries remembered (none when the file is missing or unreadable). */
export async function readExpired(stateDir: string): Promise<ExpiredClones> {
  try {
    const v = JSON.parse(await readFile(file(stateDir), 'utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as ExpiredClones) : {};
  } catch {
    return {};
  }
}

export async function writeExpired(stateDir: string, expired: ExpiredClones): Promise<void> {
  await writeFileAtomic(file(stateDir), `${JSON.stringify(expired, null, 2)}\n`, { mode: 0o600 });
}
