import Docker from 'dockerode';
import type { DesiredState } from '../core/desired.ts';
import { DockerDriver } from '../drivers/docker/driver.ts';
import type { MachineDriver } from './executors.ts';

/**
 * Docker drivers for successive desired states, sharing one engine client. A new driver per
 * state because registry credentials come from env.yml and may change with any commit.
 */
export function dockerMachine(
  stateDir: string,
  docker: Docker = new Docker(),
): (desired: DesiredState) => MachineDriver {
  return (desired) =>
    new DockerDriver({
      docker,
      stateDir,
      registries: desired.site.registries.map((r) => ({
        serveraddress: r.server,
        username: r.username,
        password: r.password,
      })),
    });
}
