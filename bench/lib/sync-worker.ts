import { join } from 'node:path';
import { createLogger } from '../../agent/lib/log.ts';
import { GitSource } from '../../agent/source/index.ts';

/**
 * Runs in its own process so its timings and RSS are the agent's alone:
 * `sync-worker.ts <url> <stateRoot> <cloneDepth> <noops> <appliance>` → one JSON line on stdout.
 * The first clone counts until the agent has read `<appliance>`'s appliance.yml and env.yml.
 */
const [url, stateRoot, depthArg, noopsArg, appliance] = process.argv.slice(2);
if (url === undefined || stateRoot === undefined || appliance === undefined)
  throw new Error('usage: sync-worker <url> <stateRoot> <depth> <noops> <appliance>');
const cloneDepth = Number(depthArg ?? '1');
const noops = Number(noopsArg ?? '20');
const log = createLogger({ level: process.env['BENCH_LOG'] ?? 'warn' });
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

const rssStart = process.memoryUsage().rss;
const source = new GitSource({ log }, { url, branch: 'main', stateDir: join(stateRoot, 'state'), cloneDepth });
let t = performance.now();
const first = await source.sync();
const syncMs = performance.now() - t;
const files = [`appliances/${appliance}/appliance.yml`, `appliances/${appliance}/env.yml`];
for (const file of files) {
  const text = await first.reader.readFile(file);
  if (text === undefined || text === '') throw new Error(`${file} is missing from the first clone`);
}
const cloneMs = performance.now() - t;
if (!first.changed) throw new Error('first sync did not clone');
const rssAfterClone = process.memoryUsage().rss;

const noopMs: number[] = [];
for (let i = 0; i < noops; i++) {
  t = performance.now();
  const r = await source.sync();
  noopMs.push(performance.now() - t);
  if (r.changed) throw new Error('no-op sync changed');
}
const rssAfterNoops = process.memoryUsage().rss;
process.stdout.write(
  `${JSON.stringify({
    cloneMs,
    syncMs,
    readMs: cloneMs - syncMs,
    noopMs,
    rssStartMb: mb(rssStart),
    rssAfterCloneMb: mb(rssAfterClone),
    rssAfterNoopsMb: mb(rssAfterNoops),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 102.4) / 10,
  })}\n`,
);
