import { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when that command runs: startup cost is what one command
 * imports (`--version` imports none), and the daemon (`appliance agent`) does not carry the
 * provisioning and PDF libraries of the operator commands in memory. Help and unknown commands
 * load them all (cli/program.ts, in the order of the reference).
 */
const COMMANDS: Record<string, () => Promise<{ register: Register }>> = {
  validate: () => import('./cli/validate.ts'),
  render: () => import('./cli/render.ts'),
  plan: () => import('./cli/plan.ts'),
  review: () => import('./cli/review.ts'),
  apply: () => import('./cli/apply.ts'),
  agent: () => import('./cli/agent.ts'),
  boot: () => import('./cli/boot.ts'),
  config: () => import('./cli/config.ts'),
  backup: () => import('./cli/backup.ts'),
  decrypt: () => import('./cli/decrypt.ts'),
  encrypt: () => import('./cli/encrypt.ts'),
  'import-legacy': () => import('./cli/import-legacy.ts'),
  status: () => import('./cli/status.ts'),
  fleet: () => import('./cli/fleet.ts'),
};

const first = process.argv[2];
const load = first === undefined ? undefined : COMMANDS[first];
if (first === '--version' || first === '-V') {
  const { VERSION } = await import('./cli/version.ts');
  process.stdout.write(`${VERSION}\n`);
} else if (load !== undefined) {
  const { register } = await load();
  const { runCli } = await import('./cli/exit-codes.ts');
  const program = new Command('appliance').showHelpAfterError().exitOverride();
  register(program);
  await runCli(program, process.argv);
} else {
  const { buildProgram, runCli } = await import('./cli/program.ts');
  await runCli(buildProgram(), process.argv);
}
