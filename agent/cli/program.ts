import { Command } from 'commander';
import { EXIT_CODES_HELP } from './exit-codes.ts';
export { runCli } from './exit-codes.ts';
import { register as registerAgent } from './agent.ts';
import { register as registerApply } from './apply.ts';
import { register as registerBackup } from './backup.ts';
import { register as registerBoot } from './boot.ts';
import { register as registerConfig } from './config.ts';
import { register as registerDecrypt } from './decrypt.ts';
import { register as registerEncrypt } from './encrypt.ts';
import { register as registerFleet } from './fleet.ts';
import { register as registerImportLegacy } from './import-legacy.ts';
import { register as registerPlan } from './plan.ts';
import { register as registerRender } from './render.ts';
import { register as registerReview } from './review.ts';
import { register as registerStatus } from './status.ts';
import { register as registerValidate } from './validate.ts';
import { VERSION } from './version.ts';

/** The `appliance` command line; each subcommand lives in its own file. */
export function buildProgram(): Command {
  const program = new Command('appliance')
    .description('GitOps pull agent for self-hosted server appliances')
    .version(VERSION)
    .showHelpAfterError()
    // Usage errors throw (see runCli) instead of exiting 1, which means "invalid config" here.
    .exitOverride()
    .addHelpText('after', EXIT_CODES_HELP);
  for (const register of [
    registerValidate,
    registerRender,
    registerPlan,
    registerReview,
    registerApply,
    registerAgent,
    registerBoot,
    registerStatus,
    registerFleet,
    registerConfig,
    registerBackup,
    registerDecrypt,
    registerEncrypt,
    registerImportLegacy,
  ])
    register(program);
  return program;
}
