import { join } from 'node:path';
import type { Command } from 'commander';
import { describeError, isAgentError } from '../core/errors.ts';
import { hostPathsOf } from '../core/normalize.ts';
import { plan } from '../core/plan.ts';
import { planJson, renderPlan } from '../core/plan-render.ts';
import { dockerMachine } from '../machine/docker-machine.ts';
import { loadSpecKey, readInventory } from '../engine/state-files.ts';
import { loadDesiredForCli, type DesiredInputOptions } from './desired-input.ts';
import { processIo, type CliIo } from './io.ts';

export interface PlanCliOptions extends DesiredInputOptions {
  stateDir: string;
  json?: boolean;
}

/** The options plan and apply share. */
export function desiredMachineOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--repo <url|dir>', 'config repository: an http(s) git URL or a checkout directory')
    .option('--branch <branch>', 'branch to clone when --repo is a URL', 'main')
    .requiredOption('--name <name>', 'appliance name (appliances/<name>/)')
    .option('-i, --identity <keyfile>', 'age identity file to decrypt env.yml')
    .option('--state-dir <dir>', "the agent's state directory (spec key, inventory, journal)", '/var/lib/appliance');
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
Exit status 0 when in sync, 3 when there are changes or refusals, 1 for invalid config, 2 on errors.`,
    )
    .action(async (opts: PlanCliOptions) => {
      await runPlan(opts, io);
    });
}

export async function runPlan(opts: PlanCliOptions, io: CliIo): Promise<void> {
  try {
    const desired = await loadDesiredForCli('plan', opts, io);
    if (desired === undefined) return;
    const stateDir = join(opts.stateDir, 'engine');
    const driver = dockerMachine(stateDir)(desired);
    const actual = await driver.observe(desired.name, { hostPaths: hostPathsOf(desired) });
    const lastApplied = await readInventory(stateDir, desired.name);
    const p = plan(desired, actual, {
      now: new Date(),
      specKey: await loadSpecKey(stateDir),
      ...(lastApplied === undefined ? {} : { lastApplied }),
    });
    io.stdout(opts.json === true ? `${planJson(p)}\n` : renderPlan(p));
    io.setExitCode(p.steps.length === 0 && p.refused.length === 0 ? 0 : 3);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance plan: ${describeError(err)}\n`);
    io.setExitCode(2);
  }
}
