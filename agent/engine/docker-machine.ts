import { DockerClient } from '../drivers/docker/client.ts';
import type { DesiredState } from '../core/desired.ts';
import { DockerDriver } from '../drivers/docker/driver.ts';
import type { Logger } from '../lib/log.ts';
import type { MachineDriver } from './executors.ts';
import { ApplianceMachine } from './machine.ts';

/**
 * Machine drivers (Docker, snapshots, migrations) for successive desired states, sharing one
 * engine client. A new driver per state because registry credentials come from env.yml and may
 * change with any commit, and the storage layout and app commands with the app definition.
 */
export function dockerMachine(
  stateDir: string,
  docker: DockerClient = new DockerClient(),
  log?: Logger,
): (desired: DesiredState) => MachineDriver {
  return (desired) =>
    new ApplianceMachine({
      desired,
      stateDir,
      ...(log === undefined ? {} : { log }),
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
