import path from 'node:path';
import type { DesiredState } from '../agent/core/desired.ts';
import type { MachineDriver } from '../agent/core/executors.ts';
import { CloneRuntime } from '../agent/engine/clones.ts';
import { cloneTrial } from '../agent/engine/preflight-trial.ts';
import { DockerCloneMachine } from '../agent/machine/docker-clone-machine.ts';
import { storageLayout } from '../agent/machine/storage-layout.ts';
import { openSnapshots } from '../agent/drivers/snapshot/store.ts';
import { loopBtrfs } from '../devenv/env/btrfs.ts';
import { makeStack, withDemoCommands, type Stack } from '../devenv/engine-stack.ts';
import { docker, ensureEnv } from '../devenv/docker-env.ts';
import { dumpPipedToScratch } from './lib/dump-restore.ts';
import { median, target } from './lib/targets.ts';

const MB = 1024 * 1024;

/**
 * Pre-flight on a clone of the demo whose database holds `--size` MB (default 1024):
 * (1) clone creation against `pg_dump | pg_restore` of the same database into a scratch
 * database, in the same run; target ≤ 1/50. Like for like: pg_restore's side ends with a
 * scratch database that answers, so the clone's creation ends when its data is usable — the
 * btrfs snapshot of production's data taken and the clone's own PostgreSQL answering a query on
 * it (the agent's own wait for that, timed inside the real clone runtime). The whole clone stack
 * up and healthy (its app too) is printed beside it, for information. (2) A whole pre-flight of v1 → v2 (clone, migration 002 — an index
 * over `--rows` rows —, smoke test, health, removal) against the migration alone. Medians of
 * `--runs` runs (default 3): the machine is shared.
 */
export default async function preflightBench(args: string[]): Promise<void> {
  const mb = numberArg(args, '--size', 1024);
  const rows = numberArg(args, '--rows', 2_000_000);
  const runs = numberArg(args, '--runs', 3);
  const env = await ensureEnv();
  // The database, clones sharing its blocks, the scratch copy pg_restore writes, WAL.
  const fs = await loopBtrfs('bench-preflight', `${Math.max(6, Math.ceil((mb * 6) / 1024))}G`);
  let stack: Stack | undefined;
  try {
    const s = await makeStack('bench-preflight', { seedSchema: false, dataDir: path.join(fs.mount, 'data', 'pgdata') });
    stack = s;
    // The demo as example-config-repo has it (its smoke test too), pulling with the registry's credentials.
    const registries = [{ server: env.registry.url, username: env.registry.username, password: env.registry.password }];
    const demo = (v: string, revision: string): DesiredState => {
      const d = withDemoCommands(s.desired({ webImage: env.images[`demo:${v}`] ?? '' }));
      const migrate = d.app.commands.migrate;
      if (migrate === undefined) throw new Error('the demo has no migrate command');
      const smoke = { ...migrate, name: 'smoke_test' as const, command: ['smoke'] };
      return {
        ...d,
        revision,
        site: { ...d.site, registries },
        app: { ...d.app, commands: { ...d.app.commands, smoke_test: smoke } },
      };
    };
    const production = demo('v1', 'a1a1a1a1a1a1a1a1');
    const first = await s.apply(production);
    if (!first.applied) throw new Error(`v1: ${JSON.stringify(first.error)}`);
    const t = performance.now();
    const size = await fill(s, rows, mb * MB);
    console.log(
      `database of ${(size / MB).toFixed(0)} MB (${rows.toLocaleString('en')} items) filled in ${sec(performance.now() - t)}`,
    );
    // The next pre-flight's image is pulled once before (a pre-flight pulls it too, once per head).
    await docker(env, ['pull', '-q', env.images['demo:v2'] ?? ''], { timeoutMs: 600_000 });

    const timed = new DatabaseTimedMachine(s.docker, s.stateDir, s.log);
    const runtime = new CloneRuntime({
      machine: timed,
      stateDir: s.stateDir,
      log: s.log,
      production: () => production,
      exclusive: (fn) => fn(),
      minFree: { bytes: 0, fraction: 0 },
    });
    const trial = cloneTrial({ clones: runtime, log: s.log });
    const layout = storageLayout(production);
    if (layout === undefined) throw new Error('the demo has no data volume');
    const snaps = await openSnapshots(layout.root);
    const m = {
      snap: [] as number[],
      data: [] as number[],
      clone: [] as number[],
      dump: [] as number[],
      total: [] as number[],
      migration: [] as number[],
    };
    for (let i = 0; i < runs; i++) {
      // The snapshot alone (what a clone's creation costs whatever the size), then a whole clone.
      let t0 = performance.now();
      const snap = await snaps.create({ kind: 'CLONE', volumes: layout.volumes, now: new Date(Date.now() + i * 1000) });
      const snapMs = performance.now() - t0;
      await snaps.delete(snap.name);
      timed.takeAnswered(); // the last pre-flight's clone, not this one
      t0 = performance.now();
      const name = `bench${String(i)}`;
      await runtime.ensure({
        name,
        desired: production,
        settings: {},
        expiresAt: new Date(Date.now() + 3_600_000),
        purpose: 'preflight',
      });
      const cloneMs = performance.now() - t0;
      const dataMs = timed.takeAnswered() - t0;
      await runtime.remove(name);
      const dumpMs = await dumpPipedToScratch((a) => pg(s, a), { user: 'demo', database: 'demo' });
      t0 = performance.now();
      const result = await trial(demo('v2', `b${String(i)}b2b2b2b2b2b2b2b2`), new AbortController().signal);
      const totalMs = performance.now() - t0;
      const migrationMs = result.migrationMs ?? NaN;
      console.log(
        `  run ${String(i + 1)}: snapshot ${sec(snapMs)}, clone data usable ${sec(dataMs)}, whole clone up and healthy ${sec(cloneMs)}, pg_dump | pg_restore ${sec(dumpMs)}; ` +
          `pre-flight ${sec(totalMs)} of which migration ${sec(migrationMs)} (smoke: ${result.smoke?.tail.trim() ?? 'none'})`,
      );
      m.snap.push(snapMs);
      m.data.push(dataMs);
      m.clone.push(cloneMs);
      m.dump.push(dumpMs);
      m.total.push(totalMs);
      m.migration.push(migrationMs);
    }
    const data = median(m.data);
    const clone = median(m.clone);
    const dump = median(m.dump);
    const total = median(m.total);
    const migration = median(m.migration);
    console.log(`\npre-flight on a ${(size / MB).toFixed(0)} MB database (medians of ${String(runs)} runs)`);
    table([
      ['measure', 'time', 'vs pg_dump | pg_restore'],
      ['pg_dump | pg_restore into a scratch database', sec(dump), '1'],
      ['clone creation: snapshot + its PostgreSQL answering', sec(data), ratio(data, dump)],
      ['  of which the btrfs snapshot alone', sec(median(m.snap)), ratio(median(m.snap), dump)],
      ['(information) whole clone stack up and healthy', sec(clone), ratio(clone, dump)],
      ['pre-flight total', sec(total), `${(total / migration).toFixed(1)}× the migration`],
      ['  of which the migration', sec(migration), ''],
    ]);
    console.log(`pre-flight overhead beyond the migration: ${sec(total - migration)}\n`);
    target(
      "clone creation (snapshot + the clone's PostgreSQL answering) vs pg_dump | pg_restore",
      ratio(data, dump),
      '≤ 1/50 (0.020)',
      data / dump <= 0.02,
    );
    console.log(
      `information, no target: the whole clone stack up and healthy (its app too) is ${ratio(clone, dump)} of pg_dump | pg_restore`,
    );
  } finally {
    await stack?.cleanup().catch((err: unknown) => {
      console.error(`cleanup: ${(err as Error).message}`);
    });
    await fs.down().catch((err: unknown) => {
      console.error(`cleanup: ${(err as Error).message}`);
    });
  }
}

/** `rows` rows in the demo's items (what migration 002 indexes), then a filler table up to `bytes`. */
async function fill(s: Stack, rows: number, bytes: number): Promise<number> {
  await psql(
    s,
    `INSERT INTO items (created) SELECT now() - g * interval '1 second' FROM generate_series(1, ${String(rows)}) g`,
  );
  await psql(s, 'CREATE TABLE IF NOT EXISTS filler (id bigint PRIMARY KEY, body text NOT NULL)');
  const size = async (): Promise<number> => Number((await psql(s, "SELECT pg_database_size('demo')")).trim());
  let next = 1;
  const batch = 200_000;
  while ((await size()) < bytes) {
    await psql(
      s,
      `INSERT INTO filler SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 31)::text) FROM generate_series(${String(next)}, ${String(next + batch - 1)}) g`,
    );
    next += batch;
  }
  await psql(s, 'CHECKPOINT');
  return size();
}

async function psql(s: Stack, sql: string): Promise<string> {
  const out = await docker(
    s.env,
    ['exec', `${s.owner}-postgres`, 'psql', '-U', 'demo', '-d', 'demo', '-At', '-c', sql],
    {
      timeoutMs: 3_600_000,
    },
  );
  return out.stdout;
}

async function pg(s: Stack, args: string[]): Promise<void> {
  await docker(s.env, ['exec', `${s.owner}-postgres`, ...args], { timeoutMs: 3_600_000 });
}

function ratio(part: number, whole: number): string {
  return `${(part / whole).toFixed(3)} (1/${String(Math.round(whole / part))})`;
}

/**
 * The clone machine with the moment the clone's database container is ready timed: its
 * `container.create` step ends once the agent has seen its PostgreSQL answer `SELECT 1`.
 */
class DatabaseTimedMachine extends DockerCloneMachine {
  private answeredAt: number | undefined;

  /** When the last clone's database answered (NaN: it did not), and forgets it for the next. */
  takeAnswered(): number {
    const at = this.answeredAt ?? NaN;
    this.answeredAt = undefined;
    return at;
  }

  override async driver(
    cloneDesired: DesiredState,
    name: string,
  ): Promise<{ driver: MachineDriver; stateDir: string }> {
    const made = await super.driver(cloneDesired, name);
    const database = cloneDesired.app.database?.service;
    const inner = made.driver;
    const { executors } = inner;
    // Each part bound to the real driver (it is a class: a spread would drop its methods).
    const driver: MachineDriver = {
      observe: (owner, options) => inner.observe(owner, options),
      executors: {
        ...executors,
        'container.create': async (step, ctx) => {
          const undo = await executors['container.create'](step, ctx);
          if (step.args.service === database) this.answeredAt ??= performance.now();
          return undo;
        },
      },
      ...(inner.recoverers === undefined ? {} : { recoverers: inner.recoverers }),
      ...(inner.sweep === undefined ? {} : { sweep: (o, opts) => inner.sweep?.(o, opts) ?? Promise.resolve() }),
      ...(inner.settled === undefined ? {} : { settled: (d, l) => inner.settled?.(d, l) ?? Promise.resolve() }),
    };
    return { ...made, driver };
  }
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
