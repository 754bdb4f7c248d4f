import type { DesiredState } from '../core/desired.ts';
import { DockerClient } from '../drivers/docker/client.ts';
import { DockerDriver } from '../drivers/docker/driver.ts';
import type { Logger } from '../lib/log.ts';
import type { MachineDriver } from '../core/executors.ts';
import { ApplianceMachine } from './machine.ts';
import type { RecoverData } from './disaster-recovery-step.ts';

export interface DockerMachineOptions {
  docker?: DockerClient;
  log?: Logger;
  /** Recovery of a fresh appliance from its backup (see agent/backup/recover.ts). */
  recover?: RecoverData;
  /** Observe only: see ApplianceMachineOptions.readOnly. */
  readOnly?: boolean;
}

/**
 * Machine drivers (Docker, snapshots, migrations) for successive desired states, sharing one
 * engine client. A new driver per state because registry credentials come from env.yml and may
 * change with any commit, and the storage layout and app commands with the app definition.
 * Pass the root `log`: without one, each machine makes a stderr logger of its own.
 */
export function dockerMachine(
  stateDir: string,
  options: DockerMachineOptions = {},
): (desired: DesiredState) => MachineDriver {
  const docker = options.docker ?? new DockerClient();
  return (desired) =>
    new ApplianceMachine({
      desired,
      stateDir,
      ...(options.log === undefined ? {} : { log: options.log }),
      ...(options.recover === undefined ? {} : { recover: options.recover }),
      ...(options.readOnly === true ? { readOnly: true } : {}),
      docker: new DockerDriver({
        docker,
        stateDir,
        registries: desired.site.registries.map((r) => ({
          serveraddress: r.server,
          username: r.username,
          password: r.password,
        })),
      }),
    });
}
