import { describeError } from '../core/errors.ts';
import type { Executor, Recoverer, Undo } from '../core/executors.ts';
import { ingressConfig, steadyConfig, upstreamAddresses, type AddressedContainer } from '../core/ingress-config.ts';
import { situationFor } from '../core/ingress-service.ts';
import type { JsonObject } from '../core/json.ts';
import { containerName, LABELS, NEXT_SUFFIX, PREV_SUFFIX } from '../core/names.ts';
import type { ContainerInspect } from '../drivers/docker/client.ts';
import type { DesiredState } from '../core/desired.ts';
import {
  createStopped,
  dropSecretsIfUnused,
  ignoreStatus,
  removeOwnedNamed,
  startAndWait,
  startReady,
  type DriverDeps,
} from '../drivers/docker/containers.ts';
import { dockerError, dockerStatus, ignoreMissing } from '../drivers/docker/errors.ts';
import type { IngressDriver } from '../drivers/ingress/caddy-admin.ts';

/** How long requests already sent to the old container get to finish after the switch. */
const DRAIN_MS = 2_000;

/**
 * `ingress.load`: the routes to the containers' current addresses, or the service page.
 * Undone by loading what was loaded before; a service page by the routes to the addresses the
 * containers the revert started again have then.
 */
export function ingressExecutor(
  d: DriverDeps,
  open: (desired: DesiredState) => IngressDriver | undefined,
): Executor<'ingress.load'> {
  return async (step, ctx) => {
    const ingress = open(ctx.desired);
    if (ingress === undefined) return undefined;
    const routes = async (): Promise<JsonObject | undefined> =>
      steadyConfig(ctx.desired, await liveContainers(d, ctx.desired));
    const config =
      step.args.mode === 'service'
        ? ingressConfig(ctx.desired, { situation: situationFor(step.args.reason) })
        : await routes();
    if (config === undefined) return undefined;
    const before = await ingress.read();
    await ingress.load(config);
    if (before === undefined) return undefined;
    return {
      revert: async () => {
        const back = step.args.mode === 'service' ? await routes() : before;
        await ingress.load(back ?? before);
      },
    };
  };
}

/** The routed services' addresses as the engine has them now (see upstreamAddresses). */
async function liveAddresses(d: DriverDeps, desired: DesiredState): Promise<Record<string, string>> {
  return upstreamAddresses(desired, await liveContainers(d, desired));
}

/** The routed services' containers as the engine has them now. */
async function liveContainers(d: DriverDeps, desired: DesiredState): Promise<AddressedContainer[]> {
  const containers: AddressedContainer[] = [];
  for (const r of desired.app.ingress.http?.routes ?? []) {
    const name = containerName(desired.name, r.service);
    const info = await d.docker
      .getContainer(name)
      .inspect()
      .catch((err: unknown) => {
        if (dockerStatus(err) === 404) return undefined;
        throw err;
      });
    if (info !== undefined) containers.push(addressed(name, info));
  }
  return containers;
}

function addressed(name: string, info: ContainerInspect): AddressedContainer {
  const addresses = Object.fromEntries(
    Object.entries(info.NetworkSettings.Networks).flatMap(([n, ep]) =>
      ep.IPAddress === '' ? [] : [[n, ep.IPAddress]],
    ),
  );
  const health = info.State.Health?.Status;
  return {
    name,
    state: info.State.Running ? 'running' : 'exited',
    addresses,
    ...(health === undefined ? {} : { health }),
  };
}

/** After a crash the next plan compares what is loaded with what it wants: nothing to undo here. */
export const ingressRecoverer: Recoverer<'ingress.load'> = () => Promise.resolve();

/**
 * `container.replace` of an app container the ingress routes to, while the old one serves:
 * the new container starts beside it under its temporary name and passes its health gate
 * before the ingress sends it anything (its address is loaded); then, once requests sent to the
 * old one had time to finish, the old one is stopped and set aside and the new one takes the
 * name. No request fails.
 * On failure before the switch only the new container is removed.
 */
export function replaceBeside(
  d: DriverDeps,
  ingress: IngressDriver,
  fallback: Executor<'container.replace'>,
): Executor<'container.replace'> {
  return async (step, ctx) => {
    const { args } = step;
    const owner = ctx.desired.name;
    const old = d.docker.getContainer(args.from.id);
    const oldInfo = await old.inspect().catch((err: unknown) => {
      throw dockerError(err, 'ContainerReplaceFailed', `inspect ${args.from.name}`, { container: args.from.name });
    });
    if (!oldInfo.State.Running || args.spec.ports.length > 0) return fallback(step, ctx);
    await ctx.record({ wasRunning: true });
    await removeOwnedNamed(d, owner, args.name + NEXT_SUFFIX);
    await removeOwnedNamed(d, owner, args.name + PREV_SUFFIX);
    const next = await createStopped(d, ctx, args, args.name + NEXT_SUFFIX);
    const dropNext = async (): Promise<void> => {
      await ignoreMissing(() => next.remove({ force: true }));
      await dropSecretsIfUnused(d, owner, args.service, args.specHash);
    };
    try {
      await startAndWait(d, ctx, next, args);
    } catch (err) {
      await dropNext();
      throw dockerError(err, 'ContainerStartFailed', `replace ${args.name}`, { container: args.name });
    }
    const putBack = async (): Promise<void> => {
      const current = (await old.inspect()).Name.replace(/^\//, '');
      if (current !== args.from.name) {
        await ignoreMissing(() => next.rename({ name: args.name + NEXT_SUFFIX }));
        await old.rename({ name: args.from.name });
      }
      // Gated again before the ingress routes to it.
      await startReady(d.docker, args.from.id, args.from.name, ctx.signal);
      const back = steadyConfig(ctx.desired, await liveContainers(d, ctx.desired));
      if (back !== undefined) await ingress.load(back);
      await dropNext();
    };
    try {
      // The new container's address, as it will have it under the service's name.
      const nextAddress = upstreamAddresses(ctx.desired, [addressed(args.name, await next.inspect())]);
      const dial = { ...(await liveAddresses(d, ctx.desired)), ...nextAddress };
      const switched = ingressConfig(ctx.desired, { dial });
      if (switched !== undefined) await ingress.load(switched);
      await new Promise((r) => setTimeout(r, DRAIN_MS));
      await ignoreStatus(304, () => old.stop());
      await old.rename({ name: args.name + PREV_SUFFIX });
      await next.rename({ name: args.name });
    } catch (err) {
      await putBack().catch((undoErr: unknown) => {
        ctx.log.error(
          { err: describeError(undoErr), container: args.from.name },
          'putting the old container back failed',
        );
      });
      throw dockerError(err, 'ContainerReplaceFailed', `switch ${args.name}`, { container: args.name });
    }
    const oldHash = oldInfo.Config.Labels[LABELS.specHash];
    const undo: Undo = {
      revert: putBack,
      commit: async () => {
        await ignoreMissing(() => old.remove({ force: true }));
        if (oldHash !== undefined) await dropSecretsIfUnused(d, owner, args.service, oldHash);
      },
    };
    return undo;
  };
}
