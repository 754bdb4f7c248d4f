import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../agent/lib/exec.ts';
import { ensureEnv, httpRequest, type EnvInfo } from '../devenv/docker-env.ts';
import { agentStatus, createFleet, removeOwned, startAgent, waitFor, type Fleet } from '../devenv/fleet.ts';
import { fleetRoot, uniqueName, webhook } from '../devenv/fleet-helpers.ts';
import { median, target } from './lib/targets.ts';

/**
 * Seconds from `git push` to converged (the agent reports the new revision applied) for a
 * config change that replaces one container, with the webhook and with a 1 s poll; and the
 * agent's RSS idle and after 1,000 no-op cycles (growth shows leaks). `--changes N` (default 3)
 * and `--noops N` (default 1000).
 */
export default async function convergeBench(args: string[]): Promise<void> {
  const changes = numberArg(args, '--changes', 3);
  const noops = numberArg(args, '--noops', 1000);
  const env = await ensureEnv();
  const launch = await daemonLaunch();
  // The agent runs as it would on an appliance: compiled, without the TypeScript loader.
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: projectRoot, timeoutMs: 300_000 });
  const webhookTimes = await measure(env, launch, 'webhook', changes, async (fleet) => {
    await webhook(fleet);
  });
  const pollTimes = await measure(env, launch, 'poll', changes, undefined, async (fleet) => {
    await rss(fleet, noops);
  });
  const envText = Object.entries(launch.env).map(([k, v]) => `${k}=${v} `);
  console.log(
    `\nagent: ${envText.join('')}node ${launch.flags.join(' ')} dist/agent/main.js agent (packer/files/appliance-agent.service)`,
  );
  console.log('config change → converged (one container replaced, health-checked)');
  console.log(`  webhook:  ${fmt(webhookTimes)}  median ${median(webhookTimes).toFixed(2)} s  (target ≤ 3 s)`);
  console.log(`  1 s poll: ${fmt(pollTimes)}  median ${median(pollTimes).toFixed(2)} s`);
  console.log('');
  const hook = median(webhookTimes);
  target('push → converged (webhook)', `${hook.toFixed(2)} s`, '≤ 3 s', hook <= 3);
  if (rssMeasured !== undefined) {
    const { idle, end } = rssMeasured;
    const growth = ((end - idle) / idle) * 100;
    target('agent RSS', `${end.toFixed(1)} MB`, '≤ 80 MB', Math.max(idle, end) <= 80);
    target(`RSS growth over ${noops} no-ops`, `${growth.toFixed(1)}%`, '≤ 5%', growth <= 5);
  }
}

let rssReport = '';
let rssMeasured: { idle: number; end: number } | undefined;

const projectRoot = join(import.meta.dirname, '..');

/** How the image's systemd unit runs the daemon: node flags and environment (see the unit for why). */
interface DaemonLaunch {
  flags: string[];
  env: Record<string, string>;
}

async function daemonLaunch(): Promise<DaemonLaunch> {
  const unit = await readFile(join(projectRoot, 'packer', 'files', 'appliance-agent.service'), 'utf8');
  const exec = /^ExecStart=\S+ (.*?) \S+\/main\.js agent/m.exec(unit)?.[1];
  if (exec === undefined) throw new Error('appliance-agent.service: no ExecStart running main.js agent');
  const env = Object.fromEntries(
    [...unit.matchAll(/^Environment=(\w+)=(\S*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
  );
  return { flags: exec.split(' '), env };
}

async function measure(
  env: EnvInfo,
  launch: DaemonLaunch,
  mode: string,
  changes: number,
  trigger?: (fleet: Fleet) => Promise<void>,
  after?: (fleet: Fleet) => Promise<void>,
): Promise<number[]> {
  const name = uniqueName(`bench-${mode}`);
  const fleet = await createFleet({ root: fleetRoot(name), env, name, pollSeconds: trigger === undefined ? 1 : 3600 });
  const agent = await startAgent(fleet, env, {
    entry: join(projectRoot, 'dist', 'agent', 'main.js'),
    nodeArgs: launch.flags,
    env: launch.env,
  });
  const times: number[] = [];
  try {
    await waitFor('first apply', 300_000, async () => (await agentStatus(fleet))?.lastAppliedRevision !== undefined);
    for (let i = 0; i < changes; i++) {
      const start = performance.now();
      const rev = await fleet.commit(`change ${i}`, async (f) => {
        await f.app((doc) => {
          doc.setIn(['services', 'web', 'environment', 'BENCH_CHANGE'], `${mode}-${i}`);
        });
      });
      if (trigger !== undefined) await trigger(fleet);
      await waitFor('converged', 120_000, async () => (await agentStatus(fleet))?.lastAppliedRevision === rev);
      times.push((performance.now() - start) / 1000);
    }
    if (after !== undefined) await after(fleet);
    return times;
  } finally {
    await agent.stop();
    await removeOwned(env, name);
    await fleet.close();
    if (rssReport !== '') console.log(rssReport);
  }
}

/**
 * RSS of the agent process idle, then after `noops` webhook-triggered no-op cycles. Each is
 * read once settled (the agent collects its garbage when it goes idle after work, see
 * agent/lib/memory.ts), so growth shows what the cycles kept, not a passing allocation.
 */
async function rss(fleet: Fleet, noops: number): Promise<void> {
  const pid = await agentPid(fleet);
  const idle = await settledRss(pid);
  const idleHeap = await heapMb(fleet);
  const start = (await agentStatus(fleet))?.cycles.unchanged ?? 0;
  const t = performance.now();
  for (let i = 0; i < noops; i++) {
    await webhook(fleet);
    await waitFor('no-op cycle', 60_000, async () => ((await agentStatus(fleet))?.cycles.unchanged ?? 0) > start + i);
  }
  const seconds = (performance.now() - t) / 1000;
  const end = await settledRss(pid);
  const endHeap = await heapMb(fleet);
  const growth = ((end.mb - idle.mb) / idle.mb) * 100;
  rssMeasured = { idle: idle.mb, end: end.mb };
  rssReport =
    `agent RSS: idle ${idle.mb.toFixed(1)} MB, after ${noops} no-op cycles ${end.mb.toFixed(1)} MB ` +
    `(${growth >= 0 ? '+' : ''}${growth.toFixed(1)}%; targets ≤ 80 MB, growth ≤ 5%); ` +
    `${((seconds * 1000) / noops).toFixed(0)} ms per no-op cycle\n` +
    `  read when settled: ${idle.first.toFixed(1)} → ${idle.mb.toFixed(1)} MB after ${idle.seconds} s idle, ` +
    `${end.first.toFixed(1)} → ${end.mb.toFixed(1)} MB after ${end.seconds} s\n` +
    `  V8 heap used ${idleHeap.heap.toFixed(1)} → ${endHeap.heap.toFixed(1)} MB, ` +
    `external ${idleHeap.external.toFixed(1)} → ${endHeap.external.toFixed(1)} MB`;
}

/**
 * RSS after at least 20 s idle, once five readings a second apart lie within 0.5 MB (at most
 * 90 s): their median, the first reading, and the seconds it took.
 */
async function settledRss(pid: number): Promise<{ mb: number; first: number; seconds: number }> {
  const readings = [await rssMb(pid)];
  const first = readings[0] ?? NaN;
  for (let s = 1; s <= 90; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    readings.push(await rssMb(pid));
    const last = readings.slice(-5);
    if (s >= 20 && Math.max(...last) - Math.min(...last) <= 0.5) {
      return { mb: median(last), first, seconds: s };
    }
  }
  return { mb: median(readings.slice(-5)), first, seconds: 90 };
}

async function agentPid(fleet: Fleet): Promise<number> {
  // The agent writes its pid nowhere; find it by its bootstrap path on the command line.
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(fleet.bootstrapFile) && cmd.includes('agent')) return Number(entry);
  }
  throw new Error('agent process not found');
}

/** Heap and external memory as the agent's /metrics reports them. */
async function heapMb(fleet: Fleet): Promise<{ heap: number; external: number }> {
  const text = (await httpRequest(`${fleet.agentUrl}/metrics`)).body.toString();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return { heap: value('nodejs_heap_used_bytes'), external: value('nodejs_external_memory_bytes') };
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

function numberArg(args: string[], flag: string, fallback: number): number {
  const i = args.indexOf(flag);
  const v = i === -1 ? NaN : Number(args[i + 1]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

function fmt(xs: number[]): string {
  return xs.map((x) => x.toFixed(2)).join(', ');
}
