import type { Command } from 'commander';
import { registerRecoverFromScan } from './config-recover-from-scan.ts';
import { registerCreate } from './config-create.ts';
import { registerRotate } from './config-rotate.ts';
import { processIo, type CliIo } from './io.ts';

/**
 * `appliance config …`: provisioning. `create` makes a new appliance (keys, env.yml, seed ISO,
 * recovery PDF), `rotate` re-encrypts and regenerates its secrets, `recover-from-scan` reads a
 * printed recovery sheet back.
 */
export function register(program: Command, io: CliIo = processIo): void {
  const group = program
    .command('config')
    .description('provision appliances: create one, rotate its keys and secrets, recover a recovery sheet')
    .addHelpText(
      'after',
      `
Typical use:
  appliance config create --repo . --name shop --domain shop.example.org -r age1… --sign
  appliance config rotate --repo . --name shop --identity ~/.config/age/key.txt -r age1… -r age1…
  appliance config recover-from-scan -o restored/ page-*.png`,
    );
  registerCreate(group, io);
  registerRotate(group, io);
  registerRecoverFromScan(group, io);
}
