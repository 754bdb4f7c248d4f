import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { run } from '../../agent/lib/exec.ts';
import type { RecoverySummary } from '../../agent/provision/recovery-text.ts';

/** A temp directory removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'provision-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Renders every page of a PDF to PNG with poppler, as a 150 dpi scan would look. */
export async function renderPages(pdf: string, dir: string, dpi = 150): Promise<string[]> {
  await run('pdftoppm', ['-r', String(dpi), '-png', pdf, join(dir, 'page')], { timeoutMs: 600_000 });
  const names = (await readdir(dir)).filter((f) => /^page-\d+\.png$/.test(f));
  names.sort((a, b) => pageNo(a) - pageNo(b));
  return names.map((f) => join(dir, f));
}

function pageNo(f: string): number {
  return Number(/-(\d+)\.png$/.exec(f)?.[1]);
}

/** A real age key pair. */
export async function ageKeyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

export function summaryFor(appliance: string, recipients: string[]): RecoverySummary {
  return {
    appliance,
    domain: `${appliance}.example.org`,
    createdAt: new Date('2025-03-04T05:06:07Z'),
    repoUrl: 'https://deploy:s3cr3t-token@git.example.org/ops/appliances.git',
    ageRecipients: recipients,
  };
}

/** Shuffles a copy deterministically (so a failure can be reproduced). */
export function shuffled<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** True when a command is on PATH. */
export async function have(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}
