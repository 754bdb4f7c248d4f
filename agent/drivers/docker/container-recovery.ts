import { LABELS, NEXT_SUFFIX } from '../../core/names.ts';
import type { Step } from '../../core/steps.ts';
import type { RecoverContext, Recoverers } from '../../core/executors.ts';
import type { ContainerInspect, DockerClient } from './client.ts';
import { startReady } from './containers.ts';
import { dockerStatus, ignoreMissing } from './errors.ts';

/** The Docker actions: those the Docker driver executes and recovers. */
export type DockerAction =
  | 'image.pull'
  | 'network.create'
  | 'network.remove'
  | 'volume.create'
  | 'container.create'
  | 'container.replace'
  | 'container.start'
  | 'container.rename'
  | 'container.remove'
  | 'container.stop';

/**
 * Undo after a crash of the Docker steps, from their arguments and what they recorded: a
 * replace puts the old container back under its name (removing the new one) and starts it
 * when it was running; a stop or a removal (which only stops until commit) starts the container
 * again; a create removes what it created; a rename renames back. Pulls, networks and volumes
 * are left (the next plan uses or reports them). Each tolerates having run before.
 */
export function dockerRecoverers(docker: DockerClient, owner: string): Pick<Recoverers, DockerAction> {
  const nothing = (): Promise<void> => Promise.resolve();
  return {
    'image.pull': nothing,
    'network.create': nothing,
    'network.remove': nothing,
    'volume.create': nothing,
    'container.start': nothing,
    'container.create': async (step) => {
      const info = await inspect(docker, step.args.name);
      if (info?.Config.Labels[LABELS.owner] === owner && info.Config.Labels[LABELS.specHash] === step.args.specHash) {
        await ignoreMissing(() => docker.getContainer(info.Id).remove({ force: true }));
      }
    },
    'container.replace': (step, ctx) => recoverReplace(docker, owner, step, ctx),
    'container.rename': async (step) => {
      const info = await inspect(docker, step.args.id);
      if (info !== undefined && info.Name.replace(/^\//, '') === step.args.to) {
        await docker.getContainer(step.args.id).rename({ name: step.args.from });
      }
    },
    'container.remove': async (step, ctx) => {
      if (ctx.outputOf(step.id)?.['wasRunning'] !== true) return;
      await startIfThere(docker, step.args.id, step.args.name, ctx);
    },
    'container.stop': async (step, ctx) => {
      // Planned only for running containers: without a record the stop may have happened.
      if (ctx.outputOf(step.id)?.['wasRunning'] === false) return;
      await startIfThere(docker, step.args.id, step.args.name, ctx);
    },
  };
}

async function recoverReplace(
  docker: DockerClient,
  owner: string,
  step: Step<'container.replace'>,
  ctx: RecoverContext,
): Promise<void> {
  const { args } = step;
  const old = await inspect(docker, args.from.id);
  // Gone: the replace had committed (the old one is removed only then); the new one stays.
  if (old === undefined) return;
  for (const name of [args.name, args.name + NEXT_SUFFIX]) {
    const c = await inspect(docker, name);
    if (c !== undefined && c.Id !== old.Id && c.Config.Labels[LABELS.owner] === owner) {
      await ignoreMissing(() => docker.getContainer(c.Id).remove({ force: true }));
    }
  }
  if (old.Name.replace(/^\//, '') !== args.from.name) {
    await docker.getContainer(old.Id).rename({ name: args.from.name });
  }
  if (ctx.outputOf(step.id)?.['wasRunning'] === true) {
    await startIfThere(docker, old.Id, args.from.name, ctx);
  }
}

async function startIfThere(docker: DockerClient, id: string, name: string, ctx: RecoverContext): Promise<void> {
  if ((await inspect(docker, id)) === undefined) return;
  try {
    await startReady(docker, id, name);
  } catch (err) {
    // Started but not (yet) ready: the next plan sees it and reports; recovery goes on.
    ctx.log.warn({ container: name, err: (err as Error).message }, 'a container started by recovery is not ready');
  }
}

async function inspect(docker: DockerClient, idOrName: string): Promise<ContainerInspect | undefined> {
  try {
    return await docker.getContainer(idOrName).inspect();
  } catch (err) {
    if (dockerStatus(err) === 404) return undefined;
    throw err;
  }
}
