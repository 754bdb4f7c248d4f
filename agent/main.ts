import { Command } from 'commander';

/**
 * Composition root. The daemon (`appliance agent`) loads only its own command, so it does
 * not carry the provisioning and PDF libraries the operator commands need in memory.
 */
if (process.argv[2] === 'agent') {
  const { register } = await import('./cli/agent.ts');
  const { runCli } = await import('./cli/program.ts');
  const program = new Command('appliance').showHelpAfterError().exitOverride();
  register(program);
  await runCli(program, process.argv);
} else {
  const { buildProgram, runCli } = await import('./cli/program.ts');
  await runCli(buildProgram(), process.argv);
}
