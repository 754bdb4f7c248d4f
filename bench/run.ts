import { access, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadLine, recordedVerdicts } from './lib/targets.ts';

/**
 * `npm run bench -- <name> [args…]` runs the default export of `bench/<name>.ts` with the rest
 * of the arguments. Each benchmark module exports `default async function (args: string[])` and
 * records its targets with bench/lib/targets.ts. Exit status: 0 when every target is met, 1 when
 * one is missed, 2 when the benchmark could not run.
 */
const here = dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);

async function available(): Promise<string[]> {
  return (await readdir(here)).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3));
}

if (name === undefined || !/^[a-z0-9-]+$/.test(name)) {
  console.error(`usage: npm run bench -- <name> [args…]\nbenchmarks: ${(await available()).join(', ')}`);
  process.exit(2);
}
const file = join(here, `${name}.ts`);
try {
  await access(file);
} catch {
  console.error(`no benchmark "${name}"; benchmarks: ${(await available()).join(', ')}`);
  process.exit(2);
}
const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
if (typeof mod.default !== 'function') {
  console.error(`bench/${name}.ts has no default export function`);
  process.exit(2);
}
console.log(`bench ${name}: ${loadLine()} at the start`);
try {
  await (mod.default as (args: string[]) => Promise<void>)(args);
} catch (err) {
  console.error(`bench ${name} could not run: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
const verdicts = recordedVerdicts();
const missed = verdicts.filter((v) => !v.meets);
console.log(
  `\nbench ${name}: ${verdicts.length - missed.length} of ${verdicts.length} targets met` +
    `${missed.length === 0 ? '' : `; MISSES ${missed.map((v) => v.name).join(', ')}`}; ${loadLine()} at the end`,
);
if (missed.length > 0) process.exitCode = 1;
