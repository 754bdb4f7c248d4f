import { cpus, loadavg } from 'node:os';
import { run } from '../../agent/lib/exec.ts';

/** A target a benchmark checked: what, the measured value as shown, the limit, and the verdict. */
export interface Verdict {
  name: string;
  measured: string;
  limit: string;
  meets: boolean;
}

const verdicts: Verdict[] = [];

/**
 * Records and prints one target's verdict ("meets" / "MISSES"); bench/run.ts exits non-zero
 * when any was missed.
 */
export function target(name: string, measured: string, limit: string, meets: boolean): boolean {
  verdicts.push({ name, measured, limit, meets });
  console.log(`target ${name}: ${measured} (${limit}) ${meets ? 'meets' : 'MISSES'}`);
  return meets;
}

/** Every verdict recorded so far in this process. */
export function recordedVerdicts(): readonly Verdict[] {
  return verdicts;
}

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/**
 * Installs the Debian packages a benchmark's baseline needs when missing, the way the tests
 * install theirs (test/prereqs.sh).
 */
export async function ensurePackages(...packages: string[]): Promise<void> {
  await run('bash', [new URL('../../test/prereqs.sh', import.meta.url).pathname, ...packages], {
    timeoutMs: 900_000,
  });
}

/** The machine's load averages (1, 5, 15 min) and CPU count, for the report: the machine is shared. */
export function loadLine(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${cpus().length} CPUs`;
}
