import type { Command } from 'commander';
import { describeError, isAgentError } from '../core/errors.ts';
import { describeAge } from '../core/plan-migrate.ts';
import type { ReportedState } from '../core/reported-state.ts';
import { openLocalRepo } from '../source/local-repo.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { processIo, type CliIo } from './io.ts';

interface FleetStatusFlags {
  repo?: string;
  json?: boolean;
}

/** One appliance's line: its report, or none. */
interface FleetEntry {
  name: string;
  report?: ReportedState;
}

/** `appliance fleet status`: every appliance as it last reported itself in its status ref. */
export function register(program: Command, io: CliIo = processIo): void {
  const fleet = program.command('fleet').description('commands about every appliance of a config repository');
  fleet
    .command('status')
    .description('list every appliance from its status ref: applied revision, conditions, last backup, versions, age')
    .option('--repo <dir>', 'checkout of the config repository, with refs/appliances/* fetched', '.')
    .option('--json', 'the reports as JSON')
    .addHelpText(
      'after',
      `
Agents push their state to refs/appliances/<name>/status in the config repo. Fetch them first:
  git fetch origin '+refs/appliances/*:refs/appliances/*'
Appliances of the repository that never reported are listed as such.
Exit status 0 when the repository could be read, 1 when it is not a git repository.`,
    )
    .action(async (flags: FleetStatusFlags) => {
      await runFleetStatus(flags, io);
    });
}

export async function runFleetStatus(flags: FleetStatusFlags, io: CliIo, now: Date = new Date()): Promise<void> {
  try {
    const repo = await openLocalRepo(flags.repo ?? '.');
    let inRepo: string[] = [];
    try {
      inRepo = await repo.readerAt(await repo.resolve('HEAD')).listDir('appliances');
    } catch (err) {
      if (!isAgentError(err)) throw err;
    }
    const names = [...new Set([...inRepo, ...(await repo.reporting())])].sort();
    const entries: FleetEntry[] = [];
    for (const name of names) {
      const found = await repo.report(name);
      entries.push(found === undefined ? { name } : { name, report: found.state });
    }
    io.stdout(flags.json === true ? `${JSON.stringify(entries, null, 2)}\n` : renderFleet(entries, now));
    io.setExitCode(EXIT.ok);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance fleet status: ${describeError(err)}\n`);
    io.setExitCode(exitCodeFor(err));
  }
}

/** A table, then one line per appliance with its conditions and versions. */
export function renderFleet(entries: readonly FleetEntry[], now: Date): string {
  if (entries.length === 0) return 'No appliances.\n';
  const rows = [['APPLIANCE', 'APPLIED', 'READY', 'LAST BACKUP', 'AGENT', 'REPORTED']];
  const details: string[] = [];
  for (const { name, report } of entries) {
    if (report === undefined) {
      rows.push([name, '-', '-', '-', '-', 'never']);
      continue;
    }
    const ready = report.conditions.find((c) => c.type === 'Ready');
    const age = (iso: string): string => `${describeAge(now.getTime() - Date.parse(iso))} ago`;
    rows.push([
      name,
      report.lastAppliedRevision?.slice(0, 12) ?? '(none)',
      ready === undefined ? '?' : ready.status ? 'yes' : `no (${ready.reason})`,
      report.lastBackup === undefined ? 'never' : age(report.lastBackup.at),
      report.agentVersion,
      age(report.reportedAt),
    ]);
    const conditions = report.conditions
      // Only what needs attention: Ready false, or Stalled / BackupMissed true.
      .filter((c) => (c.type === 'Ready' ? !c.status : c.status))
      .map((c) => `${c.type}=${c.status ? 'True' : 'False'}${c.message === '' ? '' : ` (${c.reason}: ${c.message})`}`);
    const versions = Object.entries(report.images).map(([service, image]) => `${service}=${image}`);
    details.push(
      `${name}:`,
      `  versions: ${versions.join(', ') || '(none)'}`,
      ...(report.lastAttemptedRevision === undefined || report.lastAttemptedRevision === report.lastAppliedRevision
        ? []
        : [`  attempted: ${report.lastAttemptedRevision.slice(0, 12)} (not applied)`]),
      ...(conditions.length === 0 ? [] : [`  conditions: ${conditions.join('; ')}`]),
      ...(report.lastError === undefined
        ? []
        : [`  last error: ${report.lastError.code}: ${report.lastError.message}`]),
    );
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const table = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  return `${[...table, '', ...details].join('\n').trimEnd()}\n`;
}
