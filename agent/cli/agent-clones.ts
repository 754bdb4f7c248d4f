import type { DesiredState } from '../core/desired.ts';
import { DockerClient } from '../drivers/docker/client.ts';
import { CloneRuntime } from '../engine/clones.ts';
import type { Logger } from '../lib/log.ts';
import { DockerCloneMachine } from '../machine/docker-clone-machine.ts';

/**
 * The agent's clones: kept from the applied revision's appliance.yml `clones` (`applied` after each
 * apply), expired every minute. Their work runs beside the loop; only the snapshot and the ingress
 * reload wait for it to be idle (`exclusive`).
 */
export function agentClones(options: {
  engineStateDir: string;
  log: Logger;
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
}): { runtime: CloneRuntime; applied(desired: DesiredState): void } {
  let production: DesiredState | undefined;
  const log = options.log.child({ part: 'clones' });
  const runtime = new CloneRuntime({
    machine: new DockerCloneMachine(new DockerClient(), options.engineStateDir, log),
    stateDir: options.engineStateDir,
    log,
    production: () => production,
    exclusive: options.exclusive,
  });
  return {
    runtime,
    applied(desired) {
      const first = production === undefined;
      production = desired;
      if (first) runtime.start();
      // Never awaited: the cycle that applied this revision must end before a snapshot can start.
      void runtime.follow();
    },
  };
}
