import { join } from 'node:path';
import { run } from '../agent/lib/exec.ts';
import { median, target } from './lib/targets.ts';

const projectRoot = join(import.meta.dirname, '..');
const bin = join(projectRoot, 'bin', 'appliance.js');

/**
 * Wall time of the `appliance` command as an operator starts it (bin/appliance.js on the
 * compiled dist/, built first as `npm ci` builds it): `--version` and `validate` of the example
 * config repo, the median of `--runs N` (default 9) fresh processes each. The same commands from
 * the TypeScript sources through tsx are shown for reference. Targets: --version ≤ 0.5 s,
 * validate ≤ 1 s.
 */
export default async function cliBench(args: string[]): Promise<void> {
  const i = args.indexOf('--runs');
  const runs = i >= 0 && Number(args[i + 1]) > 0 ? Number(args[i + 1]) : 9;
  await run('npm', ['run', 'build'], { cwd: projectRoot, timeoutMs: 600_000 });
  const commands: [string, string[], number][] = [
    ['--version', ['--version'], 0.5],
    ['validate', ['validate', join(projectRoot, 'example-config-repo')], 1],
  ];
  for (const [label, argv, limit] of commands) {
    const compiled = await times(runs, [bin, ...argv]);
    const source = await times(3, ['--import', 'tsx', join(projectRoot, 'agent', 'main.ts'), ...argv]);
    console.log(
      `appliance ${label}: ${compiled.map(fmt).join(' ')} (median ${fmt(median(compiled))}); ` +
        `from source through tsx: median ${fmt(median(source))} of 3`,
    );
    target(`appliance ${label}`, fmt(median(compiled)), `≤ ${limit} s`, median(compiled) <= limit);
  }
}

/** Seconds of `runs` fresh `node …` processes, one after another. */
async function times(runs: number, argv: string[]): Promise<number[]> {
  const out: number[] = [];
  for (let n = 0; n < runs; n++) {
    const t = performance.now();
    await run(process.execPath, argv, { cwd: projectRoot, timeoutMs: 60_000 });
    out.push((performance.now() - t) / 1000);
  }
  return out;
}

function fmt(s: number): string {
  return `${s.toFixed(2)} s`;
}
