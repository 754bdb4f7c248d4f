import type { DockerClient } from '../drivers/docker/client.ts';
import type { DesiredState } from '../core/desired.ts';
import { containerName } from '../core/names.ts';
import { dockerError, dockerStatus } from '../drivers/docker/errors.ts';
import type { AppControl } from './context.ts';

/**
 * Stops the app's containers (role `app`, in reverse start order) and starts the ones it
 * stopped again, in start order. The database and support services keep running. The agent's
 * reconcile loop must be held meanwhile, or it would start them again.
 */
export function dockerAppControl(docker: DockerClient, desired: DesiredState): AppControl {
  const names = desired.app.services.filter((s) => s.role === 'app').map((s) => containerName(desired.name, s.name));
  const stopped: string[] = [];
  return {
    stop: async () => {
      for (const name of [...names].reverse()) {
        try {
          const info = await docker.getContainer(name).inspect();
          if (!info.State.Running) continue;
          await docker.getContainer(name).stop();
          stopped.unshift(name);
        } catch (err) {
          if (dockerStatus(err) === 404) continue;
          throw dockerError(err, 'AppStopFailed', `stop ${name}`, { container: name });
        }
      }
    },
    start: async () => {
      for (const name of stopped.splice(0)) {
        try {
          await docker.getContainer(name).start();
        } catch (err) {
          if (dockerStatus(err) === 304) continue;
          throw dockerError(err, 'AppStartFailed', `start ${name}`, { container: name });
        }
      }
    },
  };
}
