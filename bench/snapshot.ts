import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JournalRecord } from '../agent/engine/loop/journal.ts';
import { openSnapshots } from '../agent/drivers/snapshot/store.ts';
import { loopBtrfs } from '../devenv/env/btrfs.ts';
import { makeStack, withDemoCommands } from '../devenv/engine-stack.ts';
import { docker, ensureEnv, waitForHttp, type EnvInfo } from '../devenv/docker-env.ts';
import { dumpThenRestore } from './lib/dump-restore.ts';
import { fillTo, snapshotAndRestore, startBenchPostgres } from './lib/pg-bench.ts';
import { median, target } from './lib/targets.ts';

const MB = 1024 * 1024;

/**
 * Snapshot + restore (btrfs, as the agent does for PRE_MIGRATE and its rollback) against
 * pg_dump + pg_restore of the same database, for databases of 100 MB and 1 GB, as a ratio; then
 * the app's downtime during a v1 → v2 update of the demo with a migration, against the
 * migration's own duration. Targets: ratio ≤ 1/50 at the largest size; downtime ≤ migration + 5 s.
 * Each database is measured `--runs N` times (default 3; medians: the machine is shared).
 * Options: `--sizes 100,1024` (MB), `--rows N` (rows of the demo table for the downtime run),
 * `--no-downtime` (skip the update run).
 */
export default async function snapshotBench(args: string[]): Promise<void> {
  const sizes = listArg(args, '--sizes', [100, 1024]);
  const rows = numberArg(args, '--rows', 2_000_000);
  const runs = numberArg(args, '--runs', 3);
  const env = await ensureEnv();
  // Room for the database, its snapshot (shared blocks), the restored copy pg_restore makes, and WAL.
  const fs = await loopBtrfs('bench-snapshot', `${Math.max(4, Math.ceil((Math.max(...sizes) * 8) / 1024))}G`);
  const work = await mkdtemp(path.join(tmpdir(), 'bench-snapshot-'));
  try {
    const results: string[][] = [
      ['database', 'snapshot', 'restore', 'snap+restore', 'pg_dump', 'pg_restore', 'dump+restore', 'ratio'],
    ];
    let ratio = NaN;
    for (const mb of sizes) {
      const r = await compare(env, fs.mount, work, mb, runs);
      results.push(r.row);
      ratio = r.ratio;
    }
    console.log(`\nsnapshot + restore vs pg_dump + pg_restore (same database, medians of ${runs} runs)`);
    table(results);
    console.log('');
    target(
      `snapshot + restore vs dump + restore at ${results[results.length - 1]?.[0] ?? '?'}`,
      `${ratio.toFixed(3)} (1/${Math.round(1 / ratio)})`,
      '≤ 1/50 (0.020)',
      ratio <= 0.02,
    );
    if (!args.includes('--no-downtime')) await downtime(env, fs.mount, rows);
  } finally {
    await docker(env, ['rm', '-f', 'bench-snapshot-pg'], { okCodes: [0, 1] });
    await rm(work, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 1000));
    // A failure to clean up must not hide the benchmark's own error.
    await fs.down().catch((err: unknown) => {
      console.error(`cleanup: ${(err as Error).message}`);
    });
  }
}

async function compare(
  env: EnvInfo,
  mount: string,
  work: string,
  mb: number,
  runs: number,
): Promise<{ row: string[]; ratio: number }> {
  const root = path.join(mount, `db-${mb}`);
  await rm(root, { recursive: true, force: true });
  const snaps = await openSnapshots(root);
  const volumes = [{ volume: 'pgdata', hostPath: path.join(root, 'pgdata') }];
  await snaps.createVolume(volumes[0]?.hostPath ?? '');
  const dumpDir = path.join(work, `dump-${mb}`);
  const secrets = path.join(work, `secrets-${mb}`);
  await mkdir(dumpDir, { recursive: true, mode: 0o777 });
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  await writeFile(path.join(secrets, 'password'), randomBytes(12).toString('hex'), { mode: 0o600 });
  const pg = await startBenchPostgres(env, 'bench-snapshot-pg', volumes[0]?.hostPath ?? '', dumpDir, secrets);
  try {
    let t = performance.now();
    const size = await fillTo(pg, mb * MB);
    console.log(`database of ${(size / MB).toFixed(0)} MB filled in ${sec(performance.now() - t)}`);
    const m: Record<'snap' | 'restore' | 'stop' | 'swap' | 'start' | 'dump' | 'pgRestore', number[]> = {
      snap: [],
      restore: [],
      stop: [],
      swap: [],
      start: [],
      dump: [],
      pgRestore: [],
    };
    for (let i = 0; i < runs; i++) {
      t = performance.now();
      const snap = await snapshotAndRestore(pg, snaps, volumes, new Date(Date.now() + i * 1000));
      const rowsAfter = (await pg.psql('SELECT count(*) FROM items')).trim();
      const dump = await dumpThenRestore((a) => pg.exec(a), { user: 'app', database: 'app' }, '/dump/app.dump');
      await snaps.delete(snap.name);
      const { stopMs, swapMs, startMs } = snap.parts;
      console.log(
        `  run ${i + 1}: snapshot ${sec(snap.snapshotMs)}, restore ${sec(snap.restoreMs)} = stop ${sec(stopMs)} + swap ${sec(swapMs)} + start until ready ${sec(startMs)}; ` +
          `pg_dump ${sec(dump.dumpMs)}, pg_restore ${sec(dump.restoreMs)}; ${rowsAfter} rows after the restore; ${sec(performance.now() - t)}`,
      );
      m.snap.push(snap.snapshotMs);
      m.restore.push(snap.restoreMs);
      m.stop.push(stopMs);
      m.swap.push(swapMs);
      m.start.push(startMs);
      m.dump.push(dump.dumpMs);
      m.pgRestore.push(dump.restoreMs);
    }
    const med = (k: keyof typeof m): number => median(m[k]);
    const a = median(m.snap.map((v, i) => v + (m.restore[i] ?? NaN)));
    const b = median(m.dump.map((v, i) => v + (m.pgRestore[i] ?? NaN)));
    console.log(
      `  medians: restore = stop ${sec(med('stop'))} + swap ${sec(med('swap'))} + start until ready ${sec(med('start'))}`,
    );
    return {
      ratio: a / b,
      row: [
        `${(size / MB).toFixed(0)} MB`,
        sec(med('snap')),
        sec(med('restore')),
        sec(a),
        sec(med('dump')),
        sec(med('pgRestore')),
        sec(b),
        `${(a / b).toFixed(3)} (1/${Math.round(b / a)})`,
      ],
    };
  } finally {
    await pg.remove();
    await rm(root, { recursive: true, force: true });
  }
}

/** Downtime of the demo's web during a v1 → v2 update (migration 002 on `rows` rows), polled every 50 ms. */
async function downtime(env: EnvInfo, mount: string, rows: number): Promise<void> {
  const root = path.join(mount, 'downtime');
  await rm(root, { recursive: true, force: true });
  const s = await makeStack('bench-downtime', { seedSchema: false, dataDir: path.join(root, 'postgresql') });
  const port = 18000 + Math.floor(Math.random() * 2000);
  const demo = (v: string): ReturnType<typeof s.desired> =>
    withDemoCommands(s.desired({ webImage: env.images[`demo:${v}`] ?? '', webPort: port }));
  try {
    const first = await s.apply(demo('v1'));
    if (!first.applied) throw new Error(`v1: ${JSON.stringify(first.error)}`);
    await docker(
      env,
      [
        ...['exec', `${s.owner}-postgres`, 'psql', '-U', 'demo', '-d', 'demo', '-c'],
        `INSERT INTO items (created) SELECT now() - g * interval '1 second' FROM generate_series(1, ${rows}) g; CHECKPOINT`,
      ],
      { timeoutMs: 600_000 },
    );
    const url = `http://127.0.0.1:${port}/`;
    await waitForHttp(url);
    const failures: number[] = [];
    const state = { polling: true };
    const poller = (async () => {
      while (state.polling) {
        const t = performance.now();
        if ((await get(url)) !== 200) failures.push(t);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const t0 = performance.now();
    const result = await s.apply(demo('v2'));
    const applyMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 500));
    state.polling = false;
    await poller;
    if (!result.applied) throw new Error(`v2: ${JSON.stringify(result.error)}`);
    const journal = JSON.parse(await readFile(path.join(s.stateDir, 'journal.json'), 'utf8')) as JournalRecord;
    const migrate = journal.steps.find((x) => x.action === 'app.migrate');
    const migrateMs = Number(migrate?.output?.['durationMs'] ?? NaN);
    const down = failures.length === 0 ? 0 : (failures[failures.length - 1] ?? 0) - (failures[0] ?? 0) + 50;
    console.log(`\ndowntime of web during v1 → v2 (migration 002 on ${rows.toLocaleString('en')} rows, btrfs):`);
    table([
      ['apply', 'migration (one-off run)', 'downtime (polled)', 'downtime − migration', 'target'],
      [sec(applyMs), sec(migrateMs), sec(down), sec(down - migrateMs), '≤ 5.0 s'],
    ]);
    console.log('');
    target('update downtime − migration', sec(down - migrateMs), '≤ 5.0 s', down - migrateMs <= 5000);
  } finally {
    await s.cleanup();
  }
}

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(1000, () => req.destroy());
    req.on('error', () => {
      resolve(0);
    });
  });
}

function sec(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  rows.forEach((row, n) => {
    console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '));
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

function listArg(args: string[], name: string, fallback: number[]): number[] {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = (args[i + 1] ?? '')
    .split(',')
    .map(Number)
    .filter((n) => Number.isFinite(n) && n > 0);
  return v.length > 0 ? v : fallback;
}
