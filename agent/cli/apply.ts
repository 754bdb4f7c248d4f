import { join } from 'node:path';
import type { Command } from 'commander';
import { dataRecovery } from '../backup/agent-backups.ts';
import { describeError, isAgentError } from '../core/errors.ts';
import { renderPlan } from '../core/plan-render.ts';
import { converge } from '../engine/loop/converge.ts';
import { dockerMachine } from '../machine/docker-machine.ts';
import { createLogger } from '../lib/log.ts';
import { SecretRegistry } from '../lib/secrets.ts';
import { secretValues } from '../core/desired.ts';
import { loadDesiredForCli } from './desired-input.ts';
import { exitCodeFor } from './exit-codes.ts';
import { desiredMachineOptions, machineOptions, type PlanCliFlags } from './plan.ts';
import { processIo, type CliIo } from './io.ts';

/** `appliance apply`: one reconcile pass, then exit. */
export function register(program: Command, io: CliIo = processIo): void {
  desiredMachineOptions(program.command('apply'))
    .description('apply the repo to this machine once: plan, apply with rollback, verify')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Runs the same pass as one agent cycle (without fetching or signature checks: use the agent
for that). Do not run it while an agent manages the same state directory.
Exit status 0 when the machine matches the repo afterwards, 1 when not, 2 on errors.`,
    )
    .action(async (opts: PlanCliFlags) => {
      await runApply(opts, io);
    });
}

export async function runApply(flags: PlanCliFlags, io: CliIo): Promise<void> {
  try {
    const opts = await machineOptions(flags, io);
    const desired = await loadDesiredForCli('apply', opts, io);
    if (desired === undefined) return;
    const secrets = new SecretRegistry();
    secrets.add(...secretValues(desired));
    const log = createLogger({ level: 'warn', secrets });
    const stateDir = join(opts.stateDir, 'engine');
    const recover = dataRecovery({ stateDir: opts.stateDir, log, secrets });
    const driverFor = dockerMachine(stateDir, { log, recover });
    const result = await converge({ desired, driver: driverFor(desired), driverFor, stateDir, log });
    if (opts.json === true) {
      io.stdout(`${JSON.stringify(secrets.scrubDeep(result), null, 2)}\n`);
    } else {
      const r = result.recovery;
      if (r !== undefined) {
        io.stdout(`an interrupted apply of ${r.revision.slice(0, 12)} (${r.found}) was ${r.outcome}\n`);
      }
      io.stdout(renderPlan(result.plan));
      for (const c of result.changeSet) io.stdout(`  ${c.outcome.padEnd(13)} ${c.action} ${c.subject}\n`);
      for (const n of result.notices) io.stdout(`notice (${n.code}): ${n.message}\n`);
      io.stdout(
        result.unhealthy !== undefined
          ? `applied revision ${result.revision}, NOT healthy: ${result.unhealthy.message}\n`
          : result.applied
            ? `applied revision ${result.revision}\n`
            : `NOT applied: ${result.error?.message ?? 'the machine did not converge'}\n`,
      );
    }
    io.setExitCode(result.applied && result.unhealthy === undefined ? 0 : 1);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance apply: ${describeError(err)}\n`);
    io.setExitCode(exitCodeFor(err));
  }
}
