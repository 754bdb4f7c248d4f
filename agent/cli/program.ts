import { Command } from 'commander';
import { register as registerDecrypt } from './decrypt.ts';
import { register as registerEncrypt } from './encrypt.ts';

/** The `appliance` command line; each subcommand lives in its own file. */
export function buildProgram(): Command {
  const program = new Command('appliance')
    .description('GitOps pull agent for self-hosted server appliances')
    .version('0.1.0')
    .showHelpAfterError();
  for (const register of [registerDecrypt, registerEncrypt]) register(program);
  return program;
}
