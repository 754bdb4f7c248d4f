import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Inventory } from '../core/actual.ts';
import type { BrokenAfterTraffic } from '../core/failure-after-traffic.ts';
import { AgentError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';

/**
 * The appliance's spec key (`<stateDir>/spec-key`, 0600), made on first use: it keys the
 * digests that stand in for secrets in container specs and labels. Losing it only means every
 * container with a secret is replaced once.
 */
export async function loadSpecKey(stateDir: string): Promise<string> {
  const file = path.join(stateDir, 'spec-key');
  const existing = await readOptional(file);
  if (existing !== undefined && /^[0-9a-f]{64}$/.test(existing.trim())) return existing.trim();
  const key = randomBytes(32).toString('hex');
  await writeFileAtomic(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** The spec key when one was made, else undefined: for readers that must write nothing (plan). */
export async function readSpecKey(stateDir: string): Promise<string | undefined> {
  const existing = await readOptional(path.join(stateDir, 'spec-key'));
  return existing !== undefined && /^[0-9a-f]{64}$/.test(existing.trim()) ? existing.trim() : undefined;
}

/** The inventory saved after the last successful apply of `owner` (`<stateDir>/inventory.json`). */
export async function readInventory(stateDir: string, owner: string): Promise<Inventory | undefined> {
  const text = await readOptional(path.join(stateDir, 'inventory.json'));
  if (text === undefined) return undefined;
  let inv: Inventory;
  try {
    inv = JSON.parse(text) as Inventory;
  } catch (err) {
    throw new AgentError('InventoryUnreadable', `${stateDir}/inventory.json is not JSON`, { cause: err });
  }
  return inv.owner === owner ? inv : undefined;
}

export async function writeInventory(stateDir: string, inventory: Inventory): Promise<void> {
  await writeFileAtomic(path.join(stateDir, 'inventory.json'), `${JSON.stringify(inventory, null, 2)}\n`, {
    mode: 0o600,
  });
}

/**
 * A revision whose new version broke after taking traffic and was migrated back
 * (`<stateDir>/after-traffic.json`): every apply of that revision applies the previous version
 * instead, also after a restart, until another revision is applied.
 */
export interface MigratedBack {
  owner: string;
  revision: string;
  broken: BrokenAfterTraffic;
}

export async function readMigratedBack(stateDir: string, owner: string): Promise<MigratedBack | undefined> {
  const text = await readOptional(path.join(stateDir, 'after-traffic.json'));
  if (text === undefined) return undefined;
  try {
    const rec = JSON.parse(text) as MigratedBack;
    return rec.owner === owner ? rec : undefined;
  } catch (err) {
    throw new AgentError('MigrationRecordsUnreadable', `${stateDir}/after-traffic.json is not JSON`, { cause: err });
  }
}

export async function writeMigratedBack(stateDir: string, record: MigratedBack | undefined): Promise<void> {
  const file = path.join(stateDir, 'after-traffic.json');
  if (record === undefined) await rm(file, { force: true });
  else await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
