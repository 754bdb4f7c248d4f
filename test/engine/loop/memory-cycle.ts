import { Writable } from 'node:stream';
import type { MachineDriver } from '../../../agent/core/executors.ts';
import type { AgentStatus } from '../../../agent/core/status.ts';
import { createCycle } from '../../../agent/engine/loop/cycle.ts';
import type { Cycle } from '../../../agent/engine/loop/schedule.ts';
import { createLogger } from '../../../agent/lib/log.ts';
import { SecretRegistry } from '../../../agent/lib/secrets.ts';
import { memoryRepo, plainDecrypt } from '../../config/helpers.ts';

/** A cycle of appliance shop-prod whose source serves `head()` from memory (plain env.yml). */
export function memoryCycle(options: {
  head: () => { revision: string; files: Map<string, string> };
  machine: MachineDriver;
  stateDir: string;
  status: () => AgentStatus;
}): Cycle {
  return createCycle({
    name: 'shop-prod',
    source: {
      sync: () => {
        const { revision, files } = options.head();
        return Promise.resolve({ revision, reader: memoryRepo(files) });
      },
      current: () => Promise.resolve(undefined),
    },
    decrypt: plainDecrypt,
    driverFor: () => options.machine,
    stateDir: options.stateDir,
    log: createLogger({
      destination: new Writable({
        write: (_c, _e, cb) => {
          cb();
        },
      }),
    }),
    secrets: new SecretRegistry(),
    status: options.status,
  });
}
