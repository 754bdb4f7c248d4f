import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { AgentError, describeError, isAgentError } from '../core/errors.ts';
import { formatIssue } from '../core/result.ts';
import { decryptEnvFromIdentityFile } from '../config/decrypt-env.ts';
import type { DecryptEnv } from '../config/load.ts';
import { dirRepoReader } from '../config/repo-dir.ts';
import { validateRepo, type RepoReport } from '../config/validate-repo.ts';

import { processIo, type CliIo } from './io.ts';

export { processIo, type CliIo };

export interface ValidateOptions {
  name?: string;
  identity?: string;
  json?: boolean;
}

/** `appliance validate REPO_DIR`: checks every file of a config repository. */
export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('validate')
    .description('check every file of a config repository against the schemas and cross-file rules')
    .argument('<repo-dir>', 'checkout of the config repository')
    .option('--name <name>', 'check only this appliance (and its app)')
    .option('-i, --identity <keyfile>', 'age identity file: decrypt env.yml and check its values too')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
Without --identity, env.yml is checked as a SOPS file: metadata, MAC and recipients present,
every value encrypted, keys and structure against the schema, and every reference from the
app definition present. With --identity the values are decrypted (MAC verified) and checked too.

Each problem is printed as FILE: JSON-POINTER: REASON. Exit status 0 when there are no
errors (warnings allowed), 1 when there are, 2 when the command could not run.`,
    )
    .action(async (repoDir: string, opts: ValidateOptions) => {
      await runValidate(repoDir, opts, io);
    });
}

/** Runs `validate`; `deps.decrypt` replaces identity-based decryption (tests). */
export async function runValidate(
  repoDir: string,
  opts: ValidateOptions,
  io: CliIo,
  deps: { decrypt?: DecryptEnv } = {},
): Promise<void> {
  try {
    await assertDir(repoDir);
    let decrypt = deps.decrypt;
    if (decrypt === undefined && opts.identity !== undefined) {
      const loaded = await decryptEnvFromIdentityFile(opts.identity);
      for (const w of loaded.warnings) io.stderr(`appliance validate: warning: ${formatIssue(w)}\n`);
      decrypt = loaded.decrypt;
    }
    const report = await validateRepo(dirRepoReader(repoDir), {
      ...(opts.name === undefined ? {} : { names: [opts.name] }),
      ...(decrypt === undefined ? {} : { decrypt }),
    });
    io.stdout(opts.json === true ? formatReportJson(report) : formatReportText(report));
    io.setExitCode(report.ok ? 0 : 1);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance validate: ${describeError(err)}\n`);
    io.setExitCode(2);
  }
}

/** The stable JSON shape of a validation report. */
export function formatReportJson(report: RepoReport): string {
  const decrypted = report.appliances.length > 0 && report.appliances.every((a) => a.decrypted);
  return `${JSON.stringify(
    {
      ok: report.ok,
      decrypted,
      appliances: report.appliances,
      files: report.files,
      errors: report.errors,
      warnings: report.warnings,
    },
    null,
    2,
  )}\n`;
}

/** One line per problem, then a summary line. */
export function formatReportText(report: RepoReport): string {
  const lines = [
    ...report.errors.map((i) => `error: ${formatIssue(i)}`),
    ...report.warnings.map((i) => `warning: ${formatIssue(i)}`),
  ];
  const decrypted = report.appliances.some((a) => a.decrypted);
  const names = report.appliances.map((a) => a.name).join(', ');
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push(
    `${report.ok ? 'ok' : 'FAILED'}: ${plural(report.appliances.length, 'appliance')} (${names || 'none'}), ` +
      `${plural(report.files.length, 'file')}, env.yml ${decrypted ? 'decrypted' : 'not decrypted'}: ` +
      `${plural(report.errors.length, 'error')}, ${plural(report.warnings.length, 'warning')}`,
  );
  return `${lines.join('\n')}\n`;
}

/** Fails with a usage-level AgentError when `dir` is not a directory. */
export async function assertDir(dir: string): Promise<void> {
  let ok: boolean;
  try {
    ok = (await stat(dir)).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new AgentError('RepoDirMissing', `${dir}: not a directory`, { terminal: true, data: { dir } });
}
