import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { AgentError, describeError, isAgentError } from '../core/errors.ts';
import { formatIssue, type ConfigIssue, type ConfigResult } from '../core/result.ts';
import { importLegacy } from '../legacy/import-legacy.ts';
import { envFile, applianceFile } from '../config/load.ts';
import { dirRepoReader } from '../config/repo-dir.ts';
import { validateDocument } from '../config/schemas.ts';
import { encryptSops } from '../sops/index.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { recipientsFromSopsConfig } from '../config/sops-config.ts';
import { assertDir } from './validate.ts';
import { processIo, type CliIo } from './io.ts';

export interface ImportLegacyOptions {
  name: string;
  repo: string;
  recipient?: string[];
  force?: boolean;
  json?: boolean;
}

/** `appliance import-legacy OLD_ENV_YML --name N --repo DIR`: converts an old appliance's env.yml. */
export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('import-legacy')
    .description("turn an old ECS appliance's env.yml into appliances/<name>/{appliance.yml,env.yml}")
    .argument('<old-env-yml>', "the old appliance's env.yml (#cloud-config with appliance: and ecs:)")
    .requiredOption('--name <name>', 'name of the new appliance')
    .requiredOption('--repo <dir>', 'checkout of the config repository to write into')
    .option(
      '--recipient <age1…>',
      'age recipient to encrypt env.yml for (repeatable; default: .sops.yaml)',
      collect,
      [],
    )
    .option('--force', 'overwrite existing files')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
env.yml is encrypted with SOPS for the --recipient keys, or for the recipients of the .sops.yaml
creation rule that matches appliances/<name>/env.yml. With neither, the plaintext is written to
appliances/<name>/env.plain.yml (mode 0600): encrypt it, then delete it; never commit it.

Every old key without an equivalent is listed in the report (key: note); nothing is dropped
silently. New secrets (restic password, database password) are generated.`,
    )
    .action(async (oldFile: string, opts: ImportLegacyOptions) => {
      await runImportLegacy(oldFile, opts, io);
    });
}

/** Runs `import-legacy`. */
export async function runImportLegacy(oldFile: string, opts: ImportLegacyOptions, io: CliIo): Promise<void> {
  try {
    await assertDir(opts.repo);
    let text: string;
    try {
      text = await readFile(oldFile, 'utf8');
    } catch (err) {
      throw new AgentError(
        'FileUnreadable',
        `${oldFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        {
          terminal: true,
        },
      );
    }
    const imported = importLegacy(text);
    if (!imported.ok) {
      for (const e of imported.errors) io.stderr(`error: ${formatIssue({ ...e, file: oldFile })}\n`);
      io.setExitCode(1);
      return;
    }
    const { env, appliance, report } = imported.value;
    const aFile = applianceFile(opts.name);
    const problems = [
      ...issuesOf(validateDocument('appliance', structuredClone(appliance), aFile)),
      ...issuesOf(validateDocument('env', structuredClone(env), envFile(opts.name))),
    ];
    for (const p of problems) io.stderr(`error: ${formatIssue(p)}\n`);
    if (problems.length > 0) {
      io.setExitCode(1);
      return;
    }

    let recipients = opts.recipient ?? [];
    if (recipients.length === 0)
      recipients = await recipientsFromSopsConfig(dirRepoReader(opts.repo), envFile(opts.name));
    const envTarget = recipients.length > 0 ? envFile(opts.name) : `appliances/${opts.name}/env.plain.yml`;
    for (const rel of [aFile, envTarget]) {
      if (opts.force !== true && (await exists(join(opts.repo, rel)))) {
        throw new AgentError('FileExists', `${rel} exists already (use --force to overwrite)`, { terminal: true });
      }
    }
    const header = `# Imported from an old appliance env.yml by 'appliance import-legacy'.\n`;
    const envYaml = stringify(env, { lineWidth: 0 });
    await writeFileAtomic(join(opts.repo, aFile), header + stringify(appliance, { lineWidth: 0 }), { mode: 0o644 });
    if (recipients.length > 0) {
      const encrypted = await encryptSops(envYaml, { file: envTarget, recipients });
      await writeFileAtomic(join(opts.repo, envTarget), encrypted, { mode: 0o644 });
    } else {
      await writeFileAtomic(join(opts.repo, envTarget), envYaml, { mode: 0o600 });
    }
    const written = [aFile, envTarget];
    if (opts.json === true) {
      io.stdout(`${JSON.stringify({ written, encrypted: recipients.length > 0, report }, null, 2)}\n`);
    } else {
      for (const r of report) io.stdout(`${r.key}: ${r.note}\n`);
      io.stdout(`wrote ${written.join(', ')}\n`);
    }
    if (recipients.length === 0) {
      io.stderr(
        `warning: ${envTarget} holds PLAINTEXT secrets (mode 0600): encrypt it to env.yml and delete it; never commit it\n`,
      );
    }
    io.setExitCode(0);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance import-legacy: ${describeError(err)}\n`);
    io.setExitCode(2);
  }
}

function issuesOf<T>(r: ConfigResult<T>): ConfigIssue[] {
  return r.ok ? [] : r.errors;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
