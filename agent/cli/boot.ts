import type { Command } from 'commander';
import { pino } from 'pino';
import { bootMachine, writeBootResult } from '../engine/boot.ts';
import { loadIdentities } from '../sops/index.ts';
import { createLogger } from '../lib/log.ts';
import { SecretRegistry } from '../lib/secrets.ts';

/** `appliance boot`: the appliance's start before Docker (appliance-boot.service). */
export function register(program: Command): void {
  program
    .command('boot')
    .description("prepare this appliance at start: install the seed's files, find or make the data disks, mount them")
    .option('-c, --config <file>', 'bootstrap config the seed writes', '/etc/appliance/bootstrap.yml')
    .option('--data <dir>', "where the data filesystem is mounted (env.yml's default storage.paths.data)", '/data')
    .option('--result <file>', 'where the outcome is written for the agent', '/run/appliance/boot.json')
    .option('--disk <device...>', 'consider only these devices as data disks (default: every unused disk)')
    .option('--no-seed', 'do not look for a cidata seed device')
    .addHelpText(
      'after',
      `
Bad input (malformed user-data, an invalid bootstrap, no usable disk, a full data disk) is not
an error: the result says "service" with the reason, and the agent serves it as a page. A disk
that holds anything (a filesystem, a partition table, unknown data) is never formatted.`,
    )
    .action(async (opts: { config: string; data: string; result: string; disk?: string[]; seed: boolean }) => {
      const log = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: pino.destination(1) });
      const result = await bootMachine(
        {
          bootstrapFile: opts.config,
          dataMount: opts.data,
          ...(opts.seed ? {} : { seedDevice: null }),
          ...(opts.disk === undefined ? {} : { disks: opts.disk }),
        },
        { log, loadIdentities },
      );
      await writeBootResult(opts.result, result);
    });
}
