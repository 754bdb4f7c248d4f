import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../agent/lib/exec.ts';
import { createBareRepo, tempDir } from '../devenv/git-repo.ts';
import { startGitServer } from '../devenv/git-server.ts';
import { buildBenchRepo } from './lib/build-repo.ts';
import { ensurePackages, median, target } from './lib/targets.ts';

const WORKER = fileURLToPath(new URL('./lib/sync-worker.ts', import.meta.url));
const GIT_ENV = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' };

const SHAPE = { appliances: 300, commits: 500, envBytes: 3000 };
/** The appliance whose files the agent reads as part of its first clone. */
const APPLIANCE = 'site-150';

interface WorkerResult {
  /** Sync plus reading APPLIANCE's appliance.yml and env.yml through the sync's reader. */
  cloneMs: number;
  syncMs: number;
  readMs: number;
  noopMs: number[];
  rssStartMb: number;
  rssAfterCloneMb: number;
  rssAfterNoopsMb: number;
  maxRssMb: number;
}

/**
 * First clone and no-op sync of the agent's source against the git CLI, over the same
 * smart-HTTP server, on a repo of 300 appliances and 500 commits. The agent's first clone is
 * poll + fetch + verify + reading one appliance's two files from the object store; `git clone`
 * fetches and writes the work tree. Options: `--runs N` (fresh clones per side, default 5),
 * `--noops N` (no-op polls per run, default 20).
 */
export default async function syncBench(args: string[]): Promise<void> {
  const runs = numberArg(args, '--runs', 5);
  const noops = numberArg(args, '--noops', 20);
  await ensurePackages('git');
  const root = await tempDir('bench-sync-');
  const repos = join(root, 'repos');
  await mkdir(repos);
  const server = await startGitServer({ root: repos });
  try {
    const bare = await createBareRepo(repos, 'config.git');
    let t = performance.now();
    await buildBenchRepo(bare, SHAPE);
    const size = (await run('du', ['-sk', bare])).stdout.split('\t')[0];
    console.log(
      `repo: ${SHAPE.appliances} appliances, ${SHAPE.commits} commits, ${size} KiB bare (built in ${ms(performance.now() - t)})`,
    );
    const url = server.url('config.git');

    const agent: WorkerResult[] = [];
    const agentFull: WorkerResult[] = [];
    const gitClone: number[] = [];
    const gitShallow: number[] = [];
    const gitFetch: number[] = [];
    let agentRequests = '';
    let gitRequests = '';
    for (let i = 0; i < runs; i++) {
      agent.push(await worker(url, join(root, `agent-${i}`), 1, noops));
      if (i === 0) {
        // Requests per no-op poll = (clone + 1 poll) − (clone alone), each from a fresh state dir.
        server.resetCounts();
        await worker(url, join(root, 'count-a'), 1, 0);
        const clone = server.counts();
        server.resetCounts();
        await worker(url, join(root, 'count-b'), 1, 1);
        const both = server.counts();
        agentRequests = `${describeCounts(clone, 'for the first clone')}, ${describeCounts(
          {
            refAdvertisement: both.refAdvertisement - clone.refAdvertisement,
            uploadPack: both.uploadPack - clone.uploadPack,
          },
          'per no-op',
        )}`;
      }
      agentFull.push(await worker(url, join(root, `agent-full-${i}`), 0, 1));

      const dir = join(root, `git-${i}`);
      t = performance.now();
      await run('git', ['clone', '--quiet', '--single-branch', '--branch', 'main', url, dir], { env: GIT_ENV });
      gitClone.push(performance.now() - t);
      t = performance.now();
      await run('git', ['clone', '--quiet', '--depth', '1', '--branch', 'main', url, `${dir}-shallow`], {
        env: GIT_ENV,
      });
      gitShallow.push(performance.now() - t);
      for (let n = 0; n < noops; n++) {
        if (i === 0 && n === 0) server.resetCounts();
        t = performance.now();
        await run('git', ['fetch', '--quiet', 'origin'], { cwd: dir, env: GIT_ENV });
        gitFetch.push(performance.now() - t);
        if (i === 0 && n === 0) gitRequests = describeCounts(server.counts(), 'per no-op');
      }
      await rm(join(root, `agent-${i}`), { recursive: true, force: true });
    }

    const agentClone = median(agent.map((r) => r.cloneMs));
    const agentNoop = median(agent.flatMap((r) => r.noopMs));
    const fullClone = median(agentFull.map((r) => r.cloneMs));
    const cloneMed = median(gitClone);
    const fetchMed = median(gitFetch);
    console.log(`\nmedians over ${runs} runs (no-op: ${runs}×${noops} polls); fresh process per agent run`);
    console.log(
      `the agent writes no work tree: it reads config files from the git object store at the accepted commit,\n` +
        `so its first clone is timed until it has read appliances/${APPLIANCE}/{appliance.yml,env.yml}` +
        ` (sync ${ms(median(agent.map((r) => r.syncMs)))} + read ${ms(median(agent.map((r) => r.readMs)))}),` +
        ` while git clone also writes all ${SHAPE.appliances * 2} files\n`,
    );
    table([
      ['operation', 'agent (isomorphic-git)', 'git CLI', 'ratio', 'target'],
      ['first clone', ms(agentClone), ms(cloneMed), ratio(agentClone, cloneMed), '≤ 2×'],
      ['no-op sync / fetch', ms(agentNoop), ms(fetchMed), ratio(agentNoop, fetchMed), '≤ 0.5×'],
      ['clone, full history', ms(fullClone), ms(cloneMed), ratio(fullClone, cloneMed), '(reference)'],
      ['clone, depth 1', ms(agentClone), ms(median(gitShallow)), ratio(agentClone, median(gitShallow)), '(reference)'],
    ]);
    const last = agent[agent.length - 1];
    if (last !== undefined) {
      console.log(
        `\nagent RSS: start ${last.rssStartMb} MB, after clone ${last.rssAfterCloneMb} MB, after ${noops} no-ops ${last.rssAfterNoopsMb} MB, peak ${Math.max(...agent.map((r) => r.maxRssMb))} MB (full-history clone peak ${Math.max(...agentFull.map((r) => r.maxRssMb))} MB)`,
      );
    }
    console.log(`requests: agent ${agentRequests}; git ${gitRequests}`);
    console.log('');
    target('first clone vs git clone', ratio(agentClone, cloneMed), '≤ 2×', agentClone <= 2 * cloneMed);
    target('no-op sync vs git fetch', ratio(agentNoop, fetchMed), '≤ 0.5×', agentNoop <= 0.5 * fetchMed);
  } finally {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

async function worker(url: string, stateRoot: string, depth: number, noops: number): Promise<WorkerResult> {
  const out = await run(
    process.execPath,
    ['--import', 'tsx', WORKER, url, stateRoot, String(depth), String(noops), APPLIANCE],
    { timeoutMs: 600_000 },
  );
  return JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as WorkerResult;
}

function describeCounts(c: { refAdvertisement: number; uploadPack: number }, what: string): string {
  return `${c.refAdvertisement} GET info/refs + ${c.uploadPack} POST upload-pack ${what}`;
}

function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i === -1 ? undefined : Number(args[i + 1]);
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}

function ms(v: number): string {
  return `${v.toFixed(v < 10 ? 1 : 0)} ms`;
}

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const [n, row] of rows.entries()) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '));
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
