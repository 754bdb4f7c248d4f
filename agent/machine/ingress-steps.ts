import { describeError } from '../core/errors.ts';
import type { Executor, Recoverer, Undo } from '../core/executors.ts';
import { ingressConfig } from '../core/ingress-config.ts';
import { NEXT_SUFFIX, PREV_SUFFIX, LABELS } from '../core/names.ts';
import type { DesiredState } from '../core/desired.ts';
import {
  createStopped,
  dropSecretsIfUnused,
  ignoreStatus,
  removeOwnedNamed,
  startAndWait,
  type DriverDeps,
} from '../drivers/docker/containers.ts';
import { dockerError, ignoreMissing } from '../drivers/docker/errors.ts';
import type { IngressDriver } from '../drivers/ingress/caddy-admin.ts';

/** How long requests already sent to the old container get to finish after the switch. */
const DRAIN_MS = 2_000;

/** `ingress.load`: the routes or the service page; undone by loading what was loaded before. */
export function ingressExecutor(open: (desired: DesiredState) => IngressDriver | undefined): Executor<'ingress.load'> {
  return async (step, ctx) => {
    const ingress = open(ctx.desired);
    const config = ingressConfig(
      ctx.desired,
      step.args.mode === 'service' ? { service: { reason: step.args.reason } } : {},
    );
    if (ingress === undefined || config === undefined) return undefined;
    const before = await ingress.read();
    await ingress.load(config);
    return before === undefined ? undefined : { revert: () => ingress.load(before) };
  };
}

/** After a crash the next plan compares what is loaded with what it wants: nothing to undo here. */
export const ingressRecoverer: Recoverer<'ingress.load'> = () => Promise.resolve();

/**
 * `container.replace` of an app container the ingress routes to, while the old one serves:
 * the new container starts beside it under its temporary name and passes its health gate
 * before the ingress sends it anything (by its address); then the old one is stopped and set
 * aside, the new one takes the name, and the ingress dials the name again. No request fails.
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
    const before = await ingress.read();
    const putBack = async (): Promise<void> => {
      const current = (await old.inspect()).Name.replace(/^\//, '');
      if (current !== args.from.name) {
        await ignoreMissing(() => next.rename({ name: args.name + NEXT_SUFFIX }));
        await old.rename({ name: args.from.name });
      }
      await ignoreStatus(304, () => old.start());
      if (before !== undefined) await ingress.load(before);
      await dropNext();
    };
    try {
      const address = await addressOn(d, next.id, oldInfo.NetworkSettings.Networks);
      const switched = ingressConfig(ctx.desired, { dial: { [args.service]: address } });
      if (switched !== undefined) await ingress.load(switched);
      await new Promise((r) => setTimeout(r, DRAIN_MS));
      await ignoreStatus(304, () => old.stop());
      await old.rename({ name: args.name + PREV_SUFFIX });
      await next.rename({ name: args.name });
      const settled = ingressConfig(ctx.desired);
      if (settled !== undefined) await ingress.load(settled);
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

/** The new container's address on a network the old one (and so the ingress) is on. */
async function addressOn(d: DriverDeps, id: string, oldNetworks: Record<string, unknown>): Promise<string> {
  const info = await d.docker.getContainer(id).inspect();
  for (const [name, net] of Object.entries(info.NetworkSettings.Networks)) {
    if (name in oldNetworks && net.IPAddress !== '') return net.IPAddress;
  }
  const any = Object.values(info.NetworkSettings.Networks).find((n) => n.IPAddress !== '');
  if (any === undefined) throw new Error(`container ${id} has no address`);
  return any.IPAddress;
}
