import { Command } from 'commander';

/** The `appliance` command line; each subcommand lives in its own file. */
export function buildProgram(): Command {
  const program = new Command('appliance')
    .description('GitOps pull agent for self-hosted server appliances')
    .version('0.1.0')
    .showHelpAfterError();
  return program;
}
