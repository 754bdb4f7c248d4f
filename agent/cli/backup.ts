import type { Command } from 'commander';
import { DockerClient } from '../drivers/docker/client.ts';
import { dockerAppControl } from '../backup/app-control.ts';
import { createBackupContext, type BackupContext } from '../backup/context.ts';
import { restoreBackup } from '../backup/restore.ts';
import { runBackup } from '../backup/run-backup.ts';
import { listBackups } from '../backup/restic-snapshots.ts';
import { btrfsSnapshotter } from '../backup/state-snapshotter.ts';
import { checkRepository, restoreTest } from '../backup/verify.ts';
import { envFile } from '../config/load.ts';
import { backupMissed } from '../core/backup-status.ts';
import { backupTargetOf } from '../core/backup-target.ts';
import { secretValues, type DesiredState } from '../core/desired.ts';
import { describeError, isAgentError } from '../core/errors.ts';
import type { ResticProgress } from '../drivers/restic/output.ts';
import { createLogger } from '../lib/log.ts';
import { SecretRegistry } from '../lib/secrets.ts';
import { loadDesiredForCli, openRepoSpec } from './desired-input.ts';
import { exitCodeFor } from './exit-codes.ts';
import { processIo, type CliIo } from './io.ts';
import { desiredMachineOptions, machineOptions, type PlanCliFlags } from './plan.ts';

type BackupCliOptions = PlanCliFlags;

/** What a command gets once the desired state is loaded. */
interface Loaded {
  desired: DesiredState;
  ctx: BackupContext;
  /** env.yml as committed (encrypted). */
  envYml: string | undefined;
  secrets: SecretRegistry;
}

/** `appliance backup run|list|restore|check|status`. */
export function register(program: Command, io: CliIo = processIo): void {
  const backup = program
    .command('backup')
    .description('back up, list, restore and check the appliance backups (restic)')
    .addHelpText(
      'after',
      `
Backups hold the files of the data volumes marked for backup, a pg_dump of the database, the
encrypted env.yml and a manifest (file sha256, row counts and checksums per table) in the
restic repository named in env.yml backup.repository.`,
    );

  desiredMachineOptions(backup.command('run'))
    .description('back up now: check the repository, refuse an empty database or file store, dump, store')
    .option('--db-check-sql <sql>', 'SQL whose first value says the database is not empty')
    .option('--prune', 'then apply retention (restic forget --prune; else it runs on schedules.backup_prune)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit status 0 on success, 2 on errors (also when refused because the appliance is empty).')
    .action((opts: BackupCliOptions & { dbCheckSql?: string; prune?: boolean }) =>
      withLoaded('backup run', opts, io, async ({ ctx, envYml }) => {
        // Progress redraws one line, which only makes sense on a terminal.
        const tty = io === processIo && process.stderr.isTTY;
        const result = await runBackup(ctx, {
          ...(envYml === undefined ? {} : { envYml }),
          ...(opts.dbCheckSql === undefined ? {} : { nonEmptySql: opts.dbCheckSql }),
          prune: opts.prune === true,
          onPhase: (phase) => {
            if (opts.json !== true) io.stderr(`${tty ? '\r\x1b[K' : ''}${phase}…${tty ? '' : '\n'}`);
          },
          ...(tty && opts.json !== true
            ? {
                onProgress: (p: ResticProgress) => {
                  io.stderr(progressLine(p));
                },
              }
            : {}),
        });
        if (tty && opts.json !== true) io.stderr('\r\x1b[K');
        io.stdout(
          opts.json === true
            ? `${JSON.stringify(result, null, 2)}\n`
            : `backup ${result.snapshotId}: ${result.totalFiles} files, ${bytes(result.totalBytes)}, ` +
                `${bytes(result.bytesAdded)} added, ${result.durationSeconds.toFixed(1)} s` +
                (result.forgotten > 0 ? `, ${result.forgotten} old backups removed` : '') +
                (result.retentionError === undefined ? '' : ` (retention failed: ${result.retentionError})`) +
                '\n',
        );
      }),
    );

  desiredMachineOptions(backup.command('list'))
    .description("list the appliance's backups in the repository, oldest first")
    .option('--json', 'print the list as JSON')
    .action((opts: BackupCliOptions) =>
      withLoaded('backup list', opts, io, async ({ ctx }) => {
        const list = await listBackups(ctx, { mustExist: true });
        if (opts.json === true) io.stdout(`${JSON.stringify(list, null, 2)}\n`);
        else if (list.length === 0) io.stdout('no backups\n');
        else {
          for (const s of list) {
            const kind = s.tags.includes('kind=pre-restore') ? '  (pre-restore)' : '';
            io.stdout(`${s.shortId}  ${s.time.slice(0, 19).replace('T', ' ')}  revision ${s.revision ?? '-'}${kind}\n`);
          }
        }
      }),
    );

  desiredMachineOptions(backup.command('restore'))
    .description('restore files and database from a backup (the app is stopped, the current state kept first)')
    .option('--snapshot <id>', 'the backup to restore (default: the latest)')
    .option('--no-pre-restore-backup', 'do not keep the current state first (no snapshot, no backup)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Stops the app's containers, keeps the current state (a PRE_RESTORE snapshot when the data path
is on btrfs, else a restic backup tagged kind=pre-restore), restores the files and the
database, checks them against the backup's manifest, swaps them in and starts the app. Until
the swap, nothing live changes. An agent using the same --state-dir waits meanwhile.`,
    )
    .action((opts: BackupCliOptions & { snapshot?: string; preRestoreBackup: boolean }) =>
      withLoaded('backup restore', opts, io, async ({ desired, ctx, envYml }) => {
        const snapshotter = opts.preRestoreBackup ? await btrfsSnapshotter(desired, ctx.log) : undefined;
        const result = await restoreBackup(ctx, {
          app: dockerAppControl(new DockerClient(), desired),
          ...(snapshotter === undefined ? {} : { snapshotter }),
          preRestoreBackup: opts.preRestoreBackup,
          ...(opts.snapshot === undefined ? {} : { snapshot: opts.snapshot }),
          ...(envYml === undefined ? {} : { envYml }),
          onPhase: (phase) => {
            if (opts.json !== true) io.stderr(`${phase}…\n`);
          },
        });
        io.stdout(
          opts.json === true
            ? `${JSON.stringify(result, null, 2)}\n`
            : `restored ${result.snapshot.shortId}: ${result.files} files, ${result.tables} tables` +
                `${result.preRestore === undefined ? '' : `; previous state kept as ${result.preRestore.kind} ${result.preRestore.id}`}\n` +
                result.tableRows.map((t) => `  ${t.table}: ${t.rows} rows\n`).join(''),
        );
      }),
    );

  desiredMachineOptions(backup.command('check'))
    .description('check the repository (restic check); optionally test-restore the latest backup')
    .option('--read-data <subset>', 'also read this part of the data, e.g. 10% or 1/5')
    .option('--restore-test', 'restore the latest backup into a scratch area and database and compare')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit status 0 when all is well, 3 when errors or differences were found, 2 on errors.')
    .action((opts: BackupCliOptions & { readData?: string; restoreTest?: boolean }) =>
      withLoaded('backup check', opts, io, async ({ ctx }) => {
        const check = await checkRepository(ctx, opts.readData === undefined ? {} : { readDataSubset: opts.readData });
        const test = opts.restoreTest === true ? await restoreTest(ctx) : undefined;
        if (opts.json === true) io.stdout(`${JSON.stringify({ check, restoreTest: test }, null, 2)}\n`);
        else {
          io.stdout(check.ok ? 'repository: no errors\n' : `repository: ERRORS\n${check.message}\n`);
          if (test !== undefined) {
            io.stdout(
              test.ok
                ? `restore test of ${test.snapshot.slice(0, 8)}: ${test.files} files, ${test.tables} tables, ${test.rows} rows identical\n`
                : `restore test of ${test.snapshot.slice(0, 8)}: ${test.mismatches.length} differences\n` +
                    test.mismatches
                      .slice(0, 20)
                      .map((m) => `  ${m.kind} ${m.name}: expected ${m.expected}, found ${m.actual}\n`)
                      .join(''),
            );
          }
        }
        if (!check.ok || test?.ok === false) io.setExitCode(3);
      }),
    );

  desiredMachineOptions(backup.command('status'))
    .description('show the last backup, check and restore test, and whether a backup was missed')
    .action((opts: BackupCliOptions) =>
      withLoaded('backup status', opts, io, async ({ ctx }) => {
        const status = await ctx.status.read(ctx.now());
        const condition = backupMissed(
          status,
          { configured: ctx.target.repository !== undefined, maxAgeHours: ctx.target.policy.max_age_hours },
          ctx.now(),
        );
        io.stdout(`${JSON.stringify({ condition, ...status }, null, 2)}\n`);
      }),
    );
}

async function withLoaded(
  command: string,
  flags: BackupCliOptions,
  io: CliIo,
  fn: (loaded: Loaded) => Promise<void>,
): Promise<void> {
  let envYml: string | undefined;
  const secrets = new SecretRegistry();
  try {
    const opts = await machineOptions(flags, io);
    const desired = await loadDesiredForCli(command, opts, io, {
      openRepo: async (repo, o) => {
        const opened = await openRepoSpec(repo, o);
        envYml = await opened.reader.readFile(envFile(opts.name));
        return opened;
      },
    });
    if (desired === undefined) return;
    secrets.add(...secretValues(desired));
    const log = createLogger({ level: 'warn', secrets });
    const ctx = createBackupContext(backupTargetOf(desired), { stateDir: opts.stateDir, log, secrets });
    await fn({ desired, ctx, envYml, secrets });
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance ${command}: ${secrets.scrub(describeError(err))}\n`);
    io.setExitCode(exitCodeFor(err));
  }
}

function progressLine(p: ResticProgress): string {
  const pct = (p.percentDone * 100).toFixed(1).padStart(5);
  return `\r\x1b[Kupload… ${pct}%  ${bytes(p.bytesDone)} / ${bytes(p.totalBytes)}  ${p.filesDone}/${p.totalFiles} files`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i] ?? 'B'}`;
}
