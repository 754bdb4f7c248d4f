import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PreflightState } from '../core/preflight.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';

const FILE = 'preflight.json';

/** The pre-flight results per head (`<stateDir>/preflight.json`); empty when there is none yet or it is unreadable. */
export async function readPreflightState(stateDir: string): Promise<PreflightState> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, FILE), 'utf8')) as Partial<PreflightState>;
    if (parsed.version === 1 && typeof parsed.heads === 'object') return parsed as PreflightState;
  } catch {
    // Missing or damaged: start again (heads then listed are the new baseline, never tried twice by accident).
  }
  return { version: 1, heads: {} };
}

export async function writePreflightState(stateDir: string, state: PreflightState): Promise<void> {
  await writeFileAtomic(join(stateDir, FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}
