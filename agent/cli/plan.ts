import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describeError, isAgentError } from '../core/errors.ts';
import { hostPathsOf } from '../core/normalize.ts';
import { plan } from '../core/plan.ts';
import { planJson, renderPlan } from '../core/plan-render.ts';
import { dockerMachine } from '../machine/docker-machine.ts';
import { readInventory, readSpecKey } from '../engine/state-files.ts';
import { loadDesiredForCli, type DesiredInputOptions } from './desired-input.ts';
import { bootstrapOption, DEFAULT_STATE_DIR, withBootstrapDefaults, type MachineFlags } from './bootstrap-defaults.ts';
import { exitCodeFor } from './exit-codes.ts';
import { processIo, type CliIo } from './io.ts';

export interface PlanCliOptions extends DesiredInputOptions {
  stateDir: string;
  json?: boolean;
}

/** What commander hands plan, apply and the backup commands before the bootstrap defaults. */
export type PlanCliFlags = MachineFlags & { json?: boolean };

/**
 * The options plan, apply and the backup commands share. On an appliance each defaults to the
 * agent's bootstrap file (see withBootstrapDefaults); explicit flags win.
 */
export function desiredMachineOptions(cmd: Command): Command {
  return bootstrapOption(cmd)
    .option(
      '--repo <url|dir>',
      "config repository: an http(s) git URL or a checkout directory (default: the bootstrap's)",
    )
    .option('--branch <branch>', "branch to clone when --repo is a URL (default: the bootstrap's, else main)")
    .option('--name <name>', "appliance name (appliances/<name>/) (default: the bootstrap's)")
    .option('-i, --identity <keyfile>', "age identity file to decrypt env.yml (default: the bootstrap's)")
    .option(
      '--state-dir <dir>',
      `the agent's state directory (spec key, inventory, journal) (default: the bootstrap's, else ${DEFAULT_STATE_DIR})`,
    );
}

/** The flags with the bootstrap's defaults filled in. */
export async function machineOptions<T extends PlanCliFlags>(flags: T, io: CliIo): Promise<T & PlanCliOptions> {
  const options = await withBootstrapDefaults(flags, io.env);
  // Every Docker client of this process reads DOCKER_HOST (connectionFromEnv).
  if (options.dockerHost !== undefined) process.env['DOCKER_HOST'] = options.dockerHost;
  return { ...flags, ...options };
}

/** `appliance plan`: what the agent would change on this machine, and why. */
export function register(program: Command, io: CliIo = processIo): void {
  desiredMachineOptions(program.command('plan'))
    .description('show what would change on this machine to match the repo (no changes are made)')
    .option('--json', 'the plan as JSON')
    .addHelpText(
      'after',
      `
Reads the machine through the Docker engine and prints a plan like terraform's:
+ create, ~ replace, - remove, > start, with the reason for each. Secrets show as names only.
Reads only: it writes no state file and starts no container, so a migration status that only
the new image could tell is "asked at apply time".
Exit status 0 when in sync, 3 when there are changes or refusals, 1 for invalid config, 2 on errors.`,
    )
    .action(async (opts: PlanCliFlags) => {
      await runPlan(opts, io);
    });
}

export async function runPlan(flags: PlanCliFlags, io: CliIo): Promise<void> {
  try {
    const opts = await machineOptions(flags, io);
    const desired = await loadDesiredForCli('plan', opts, io);
    if (desired === undefined) return;
    const stateDir = join(opts.stateDir, 'engine');
    // Read-only: no spec key is made, no one-off container asks for the migration status.
    const driver = dockerMachine(stateDir, { readOnly: true })(desired);
    const actual = await driver.observe(desired.name, { hostPaths: hostPathsOf(desired) });
    const lastApplied = await readInventory(stateDir, desired.name);
    const p = plan(desired, actual, {
      now: new Date(),
      // No key yet means nothing was applied here: any key plans the same creations.
      specKey: (await readSpecKey(stateDir)) ?? randomBytes(32).toString('hex'),
      ...(lastApplied === undefined ? {} : { lastApplied }),
    });
    io.stdout(opts.json === true ? `${planJson(p)}\n` : renderPlan(p));
    io.setExitCode(p.steps.length === 0 && p.refused.length === 0 ? 0 : 3);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance plan: ${describeError(err)}\n`);
    io.setExitCode(exitCodeFor(err));
  }
}
