import type { Command } from 'commander';
import { stringify } from 'yaml';
import { describeError, isAgentError } from '../core/errors.ts';
import { maskDesired } from '../core/desired.ts';
import { formatDesiredText } from '../core/render-text.ts';
import { loadDesiredForCli, type DesiredInputDeps, type DesiredInputOptions } from './desired-input.ts';
import { processIo, type CliIo } from './io.ts';

export interface RenderOptions extends DesiredInputOptions {
  json?: boolean;
  yaml?: boolean;
}

/** `appliance render --repo DIR --name N`: prints the resolved desired state, secrets masked. */
export function register(program: Command, io: CliIo = processIo, deps: DesiredInputDeps = {}): void {
  program
    .command('render')
    .description("print an appliance's resolved desired state with secret values masked")
    .requiredOption('--repo <url|dir>', 'config repository: an http(s) git URL or a checkout directory')
    .option('--branch <branch>', 'branch to clone when --repo is a URL', 'main')
    .requiredOption('--name <name>', 'appliance name (appliances/<name>/)')
    .option('-i, --identity <keyfile>', 'age identity file to decrypt env.yml')
    .option('--revision <rev>', "revision label to show (default 'worktree' for a directory)")
    .option('--json', 'the full state as JSON')
    .option('--yaml', 'the full state as YAML')
    .addHelpText(
      'after',
      `
The identity file is --identity, else $APPLIANCE_AGE_IDENTITY_FILE, else $SOPS_AGE_KEY_FILE.
Secret values (x-secret in the schema, app secrets and values derived from them) print as ***.
Exit status 0 on success, 1 when the configuration is invalid, 2 when the command could not run.`,
    )
    .action(async (opts: RenderOptions) => {
      await runRender(opts, io, deps);
    });
}

/** Runs `render`. */
export async function runRender(opts: RenderOptions, io: CliIo, deps: DesiredInputDeps = {}): Promise<void> {
  try {
    const desired = await loadDesiredForCli('render', opts, io, deps);
    if (desired === undefined) return;
    const masked = maskDesired(desired);
    if (opts.json === true) io.stdout(`${JSON.stringify(masked, null, 2)}\n`);
    else if (opts.yaml === true) io.stdout(stringify(masked, { lineWidth: 0 }));
    else io.stdout(formatDesiredText(desired));
    io.setExitCode(0);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance render: ${describeError(err)}\n`);
    io.setExitCode(2);
  }
}
