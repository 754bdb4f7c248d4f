import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackupContext } from '../agent/backup/context.ts';
import { DUMP_DIR_NAME, DUMP_DIR_TARGET } from '../agent/config/resolve-dump-dir.ts';
import { runBackup } from '../agent/backup/run-backup.ts';
import type { BackupTarget } from '../agent/core/backup-target.ts';
import { run } from '../agent/lib/exec.ts';
import { createLogger } from '../agent/lib/log.ts';
import { ensureEnv } from '../devenv/docker-env.ts';
import { fillTo, startBenchPostgres, type BenchPostgres } from './lib/pg-bench.ts';
import { ensurePackages, median, target } from './lib/targets.ts';

const PASSWORD = 'bench-backup-password-1234';
const HOUR = 3600_000;

/**
 * Backups of about 1 GB of files (many small, some large, incompressible like an encrypted
 * document store): the agent's backup (manifest + restic) against Debian's duplicity (GPG
 * symmetric encryption, 25 MB volumes as the original appliance used; with a database it also
 * backs up a bare pg_dump, so both store the same data), first and incremental
 * (1% changed, `--rounds N` times, default 5: medians), then a full restore with each; and the
 * agent's backup against a bare `restic backup` of the same tree and a `pg_dump` of the same
 * database (`--db-mb N`, default 256; 0: files only) in the same run. Targets: incremental
 * ≤ 0.30 of duplicity's, ≤ 1.3× bare pg_dump + restic backup's (the median of each round's ratio). Options:
 * `--size-mb N` (default 1024), `--dir D` (where to work; default the system temp dir).
 */
export default async function backupBench(args: string[]): Promise<void> {
  const sizeMb = numberArg(args, '--size-mb', 1024);
  const rounds = numberArg(args, '--rounds', 5);
  const dbMb = numberArg(args, '--db-mb', 256);
  await ensurePackages('restic', 'duplicity');
  const base = stringArg(args, '--dir') ?? tmpdir();
  const root = await mkdtemp(join(base, 'bench-backup-'));
  let pg: BenchPostgres | undefined;
  try {
    const dumpDir = join(root, 'bare-dump');
    let database: BackupTarget['database'];
    if (dbMb > 0) {
      const secrets = join(root, 'pg-secrets');
      await mkdir(secrets, { mode: 0o700 });
      await mkdir(dumpDir);
      await chmod(dumpDir, 0o777); // PostgreSQL (uid 999) writes the bare side's dump there
      const password = randomBytes(12).toString('hex');
      await writeFile(join(secrets, 'password'), password, { mode: 0o600 });
      await mkdir(join(root, 'pg-data'));
      // The agent's dump directory, mounted as the agent mounts it into an appliance's database.
      const agentDump = { hostPath: join(root, 'data', DUMP_DIR_NAME), target: DUMP_DIR_TARGET };
      await mkdir(agentDump.hostPath, { recursive: true });
      pg = await startBenchPostgres(await ensureEnv(), 'bench-backup-pg', join(root, 'pg-data'), dumpDir, secrets, [
        `${agentDump.hostPath}:${agentDump.target}`,
      ]);
      const bytes = await fillTo(pg, dbMb * 1024 * 1024);
      console.log(`database: ${mib(bytes)} in PostgreSQL 15 (container bench-backup-pg)`);
      database = { container: 'bench-backup-pg', name: 'app', user: 'app', password, dumpDir: agentDump };
    }
    const dbPg = pg;
    // What a bare setup does for the same data: pg_dump (custom format, uncompressed, as the agent) beside the tree.
    const bareDump = async (): Promise<void> => {
      await dbPg?.exec(['pg_dump', '-Fc', '-Z0', '-U', 'app', '-d', 'app', '-f', '/dump/app.dump']);
    };
    const data = join(root, 'data', 'files');
    const t = performance.now();
    const shape = await generate(data, sizeMb * 1024 * 1024);
    console.log(
      `data: ${shape.small} small files (1-64 KiB) + ${shape.large} large (64 MiB), ${mib(shape.bytes)} ` +
        `(generated in ${secs(performance.now() - t)})`,
    );
    const versions = await tool('restic', ['version']);
    const dupVersion = await tool('duplicity', ['--version']);
    console.log(`tools: ${versions}; ${dupVersion}`);

    const backupTarget: BackupTarget = {
      appliance: 'bench',
      revision: 'bench',
      timezone: 'UTC',
      volumes: [{ name: 'files', hostPath: data }],
      repository: { repository: join(root, 'restic-repo'), password: PASSWORD, env: {}, knownHosts: [] },
      ...(database === undefined ? {} : { database }),
      policy: { keep_last: 3, keep_daily: 7, keep_weekly: 4, keep_monthly: 6, max_age_hours: 32 },
      schedules: { backup: null, prune: null, check: null, restoreTest: null },
      recoverFromBackup: false,
    };
    const ctx = createBackupContext(backupTarget, {
      stateDir: join(root, 'state'),
      log: createLogger({ level: 'warn' }),
    });
    // Duplicity backs up what the agent does: the tree, and with a database the same dump as the bare side.
    const dup = duplicity(root, dbPg === undefined ? [data] : [data, dumpDir], bareDump);

    const bare = bareRestic(root, dbPg === undefined ? [data] : [data, dumpDir], bareDump);
    await bare.init();
    // restic tunes the key derivation (scrypt) to the machine's load at init, and every restic
    // call pays it: two repositories made a minute apart differed by up to 0.4 s a call here.
    // The agent's repository starts as a copy of the bare one's, so both pay the same.
    await cp(join(root, 'bare-restic-repo'), join(root, 'restic-repo'), { recursive: true });

    const phases: Record<string, number> = {};
    let phaseStart = 0;
    let current = '';
    const onPhase = (phase: string): void => {
      const now = performance.now();
      if (current !== '') phases[current] = (phases[current] ?? 0) + now - phaseStart;
      current = phase;
      phaseStart = now;
    };
    const traced = async (): Promise<Awaited<ReturnType<typeof runBackup>>> => {
      for (const k of Object.keys(phases)) phases[k] = 0;
      const r = await runBackup(ctx, { onPhase });
      onPhase('');
      return r;
    };
    const rFirst = await timed(traced);
    const firstPhases = { ...phases };
    const bFirst = await timed(() => bare.backup());
    const dFirst = await timed(() => dup.backup('full'));

    // Incremental rounds (1% changed before each): the agent, a bare `restic backup` of the same
    // tree, duplicity; the agent and bare restic take turns going first.
    const rIncr: number[] = [];
    const bIncr: number[] = [];
    const dIncr: number[] = [];
    const dJob: number[] = [];
    const upload: number[] = [];
    const incrPhases: Record<string, number[]> = {};
    let changed = 0;
    let added = 0;
    for (let round = 0; round < rounds; round++) {
      changed = await changeOnePercent(data, shape.bytes);
      // 1% more rows, too.
      if (dbPg !== undefined) await fillTo(dbPg, Math.ceil(dbMb * 1024 * 1024 * (1.01 + round * 0.01)));
      // Each timed run starts with no dirty pages of the run before it (or of the changes) to write out.
      const agentRun = async (): Promise<void> => {
        await run('sync', []);
        const r = await timed(traced);
        rIncr.push(r.ms);
        added = r.value.bytesAdded;
        for (const [k, v] of Object.entries(phases)) (incrPhases[k] ??= []).push(v);
        upload.push(phases['upload'] ?? 0);
      };
      const bareRun = async (): Promise<void> => {
        await run('sync', []);
        bIncr.push((await timed(() => bare.backup())).ms);
      };
      if (round % 2 === 0) {
        await agentRun();
        await bareRun();
      } else {
        await bareRun();
        await agentRun();
      }
      const cleanup = await timed(() => dup.housekeeping('cleanup'));
      const incr = await timed(() => dup.backup('incremental'));
      const purge = await timed(() => dup.housekeeping('purgefull'));
      dIncr.push(incr.ms);
      dJob.push(cleanup.ms + incr.ms + purge.ms);
    }
    const rRestore = await timed(
      () => ctx.restic?.restore('latest', join(root, 'restore-restic')) ?? Promise.resolve(),
    );
    const dRestore = await timed(() => dup.restore(join(root, 'restore-duplicity')));

    console.log(`changed for each incremental run: ${mib(changed)} (${((100 * changed) / shape.bytes).toFixed(2)}%)`);
    console.log(`incremental: medians of ${rounds} rounds`);
    console.log('');
    console.log('                      agent (restic)   duplicity   ratio');
    row('first backup', rFirst.ms, dFirst.ms);
    row('incremental (1%)', median(rIncr), median(dIncr));
    row('  backup step only', median(upload), median(dIncr));
    row('  job as run (a)', median(rIncr), median(dJob));
    row('full restore', rRestore.ms, dRestore.ms);
    console.log('');
    console.log(
      `                      agent (restic)  bare ${dbPg === undefined ? 'restic backup' : 'pg_dump+restic'}   ratio`,
    );
    console.log(
      `${'first backup'.padEnd(22)}${secs(rFirst.ms).padStart(14)}${secs(bFirst.ms).padStart(20)}${(rFirst.ms / bFirst.ms).toFixed(2).padStart(8)}`,
    );
    console.log(
      `${'incremental (1%)'.padEnd(22)}${secs(median(rIncr)).padStart(14)}${secs(median(bIncr)).padStart(20)}${(median(rIncr) / median(bIncr)).toFixed(2).padStart(8)}`,
    );
    console.log(`  agent ${rIncr.map(secs).join(', ')}; bare ${bIncr.map(secs).join(', ')}`);
    // Each round's pair ran back to back: its ratio is untouched by the machine's speed drifting
    // between rounds (other tenants), which the ratio of the two medians is not.
    const paired = rIncr.map((r, i) => r / (bIncr[i] ?? NaN));
    console.log(`  ratio per round ${paired.map((r) => r.toFixed(2)).join(', ')}; median ${median(paired).toFixed(2)}`);
    // The first entry is the first backup's.
    const splitDump = median(bare.split.dump.slice(1));
    const splitRestic = median(bare.split.restic.slice(1));
    console.log(`  bare, incremental (medians): pg_dump ${secs(splitDump)}, restic backup ${secs(splitRestic)}`);
    console.log('');
    console.log(
      `restic: first added ${mib(rFirst.value.bytesAdded)}, last incremental added ${mib(added)}; ` +
        `repository ${await du(join(root, 'restic-repo'))}, duplicity target ${await du(join(root, 'duplicity-target'))}`,
    );
    const show = (p: Record<string, number>): string =>
      Object.entries(p)
        .map(([k, v]) => `${k} ${secs(v)}`)
        .join(', ');
    console.log(`agent phases, first: ${show(firstPhases)}`);
    console.log(
      `agent phases, incremental (medians): ${show(Object.fromEntries(Object.entries(incrPhases).map(([k, v]) => [k, median(v)])))}`,
    );
    console.log(
      '(a) agent: manifest scan, restic backup (the check before a database dump reads a local repository ' +
        'from its files when this password opened it before; retention runs on its own schedule); ' +
        'duplicity as duply ran it in the original: cleanup, incremental, remove-all-but-n-full 1',
    );
    console.log('');
    if (dbPg !== undefined)
      console.log('(duplicity, like bare restic, backs up the files and a bare pg_dump of the same database)');
    const vsDup = median(rIncr) / median(dIncr);
    target('incremental vs duplicity', vsDup.toFixed(2), '≤ 0.30', vsDup <= 0.3);
    const vsBare = median(paired);
    target(
      `incremental vs bare ${dbPg === undefined ? 'restic backup' : 'pg_dump + restic backup'} (median of the rounds' ratios)`,
      `${vsBare.toFixed(2)}× (ratio of the medians ${(median(rIncr) / median(bIncr)).toFixed(2)}×)`,
      '≤ 1.3×',
      vsBare <= 1.3,
    );
  } finally {
    await pg?.remove();
    await rm(root, { recursive: true, force: true });
  }
}

function duplicity(
  root: string,
  sources: string[],
  dump: () => Promise<void>,
): {
  backup: (kind: 'full' | 'incremental') => Promise<void>;
  /** What duply did around each backup in the original appliance. */
  housekeeping: (step: 'cleanup' | 'purgefull') => Promise<void>;
  restore: (to: string) => Promise<void>;
} {
  const url = `file://${join(root, 'duplicity-target')}`;
  const common = ['--archive-dir', join(root, 'duplicity-archive'), '--name', 'bench'];
  const env = { PASSPHRASE: PASSWORD };
  // One source directory: the root, with only the sources included.
  const selection = [...sources.flatMap((s) => ['--include', s]), '--exclude', '**'];
  return {
    backup: async (kind) => {
      await dump();
      await run('duplicity', [kind, '--volsize', '25', ...common, ...selection, root, url], {
        env,
        timeoutMs: 4 * HOUR,
      });
    },
    housekeeping: async (step) => {
      const args = step === 'cleanup' ? ['cleanup', '--force'] : ['remove-all-but-n-full', '1', '--force'];
      await run('duplicity', [...args, ...common, url], { env, timeoutMs: 4 * HOUR });
    },
    restore: async (to) => {
      await run('duplicity', ['restore', ...common, url, to], { env, timeoutMs: 4 * HOUR });
    },
  };
}

/** Files: ~half the bytes in small files of 1–64 KiB over nested directories, half in 64 MiB ones. */
async function generate(dir: string, bytes: number): Promise<{ small: number; large: number; bytes: number }> {
  const largeSize = 64 * 1024 * 1024;
  const large = Math.max(1, Math.floor(bytes / 2 / largeSize));
  let written = 0;
  await mkdir(join(dir, 'large'), { recursive: true });
  for (let i = 0; i < large; i++) {
    const fh = await open(join(dir, 'large', `blob-${i}.bin`), 'w');
    try {
      for (let off = 0; off < largeSize; off += 4 * 1024 * 1024) await fh.write(randomBytes(4 * 1024 * 1024));
    } finally {
      await fh.close();
    }
    written += largeSize;
  }
  let small = 0;
  while (written < bytes) {
    const sub = join(dir, 'docs', String(Math.floor(small / 1000)), String(Math.floor(small / 50) % 20));
    if (small % 50 === 0) await mkdir(sub, { recursive: true });
    const size = 1024 + ((small * 7919) % (63 * 1024));
    await writeFile(join(sub, `doc-${small}.bin`), randomBytes(size));
    written += size;
    small++;
  }
  return { small, large, bytes: written };
}

/** Rewrites 1% of the small files and a region of one large file: about 1% of the bytes. */
async function changeOnePercent(dir: string, total: number): Promise<number> {
  let changed = 0;
  const docs = join(dir, 'docs');
  const target = total / 100;
  outer: for (const a of (await readdir(docs)).sort()) {
    for (const b of (await readdir(join(docs, a))).sort()) {
      const names = (await readdir(join(docs, a, b))).sort();
      for (const name of names.filter((_, i) => i % 100 === 0)) {
        const size = 1024 + Math.floor(Math.random() * 63 * 1024);
        await writeFile(join(docs, a, b, name), randomBytes(size));
        changed += size;
        if (changed >= target / 2) break outer;
      }
    }
  }
  const region = Math.floor(target - changed);
  const fh = await open(join(dir, 'large', 'blob-0.bin'), 'r+');
  try {
    await fh.write(randomBytes(region), 0, region, 16 * 1024 * 1024);
  } finally {
    await fh.close();
  }
  return changed + region;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

function row(label: string, agentMs: number, dupMs: number): void {
  console.log(
    `${label.padEnd(22)}${secs(agentMs).padStart(14)}${secs(dupMs).padStart(12)}${(agentMs / dupMs).toFixed(2).padStart(8)}`,
  );
}

async function tool(bin: string, args: string[]): Promise<string> {
  return (await run(bin, args)).stdout.trim().split('\n')[0] ?? bin;
}

async function du(dir: string): Promise<string> {
  const kib = Number((await run('du', ['-sk', dir])).stdout.split('\t')[0]);
  return mib(kib * 1024);
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function numberArg(args: string[], name: string, fallback: number): number {
  const v = stringArg(args, name);
  return v === undefined ? fallback : Number(v);
}

function stringArg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** `restic backup` of the tree as one would run it by hand: the baseline of the agent's backup. */
function bareRestic(
  root: string,
  sources: string[],
  dump: () => Promise<void>,
): { init: () => Promise<void>; backup: () => Promise<void>; split: { dump: number[]; restic: number[] } } {
  const split = { dump: [] as number[], restic: [] as number[] };
  const env = {
    RESTIC_REPOSITORY: join(root, 'bare-restic-repo'),
    RESTIC_PASSWORD: PASSWORD,
    RESTIC_CACHE_DIR: join(root, 'bare-restic-cache'),
  };
  return {
    init: async () => {
      await run('restic', ['init'], { env });
    },
    backup: async () => {
      const t = performance.now();
      await dump();
      const dumped = performance.now();
      await run('restic', ['backup', '--json', '--host', 'bench', ...sources], { env, timeoutMs: 4 * HOUR });
      split.dump.push(dumped - t);
      split.restic.push(performance.now() - dumped);
    },
    split,
  };
}
