import { AgentError, describeError, isAgentError } from '../../core/errors.ts';
import { LABELS, NEXT_SUFFIX, PREV_SUFFIX } from '../../core/names.ts';
import { parseSpecLabel } from '../../core/normalize.ts';
import type { DesiredState } from '../../core/desired.ts';
import type { ContainerArgs, Step } from '../../core/steps.ts';
import type { ExecContext, Undo } from '../../core/executors.ts';
import type { Container, ContainerInspect, DockerClient } from './client.ts';
import { containerConfig, extraNetworks, serviceFor } from './container-config.ts';
import { dockerError, dockerStatus, ignoreMissing } from './errors.ts';
import { waitDatabaseReady } from '../postgres/ready.ts';
import { waitReady } from './health.ts';
import { removeSecretDir, secretDir, writeSecretFiles } from './secret-files.ts';

/** What the container executors need from the driver. */
export interface DriverDeps {
  docker: DockerClient;
  stateDir: string;
  extraLabels: Record<string, string>;
}

/** `container.create`: create, start, wait until ready; undone by removing it. */
export async function createContainer(d: DriverDeps, step: Step<'container.create'>, ctx: ExecContext): Promise<Undo> {
  const { args } = step;
  const container = await createStopped(d, ctx, args, args.name);
  const drop = async (): Promise<void> => {
    await ignoreMissing(() => container.remove({ force: true }));
    await dropSecretsIfUnused(d, ctx.desired.name, args.service, args.specHash);
  };
  try {
    await startAndWait(d, ctx, container, args);
  } catch (err) {
    await drop();
    throw err;
  }
  return { revert: drop };
}

/**
 * `container.replace`: create the new container under a temporary name, stop the old one and
 * set it aside (`-prev`), give the new one the name, start it and wait until ready. On failure,
 * and on revert, the new one is removed and the old one gets its name back and is started
 * again (when it was running). The old container is removed only at commit.
 */
export async function replaceContainer(
  d: DriverDeps,
  step: Step<'container.replace'>,
  ctx: ExecContext,
): Promise<Undo> {
  const { args } = step;
  const owner = ctx.desired.name;
  const old = d.docker.getContainer(args.from.id);
  const oldInfo = await old.inspect().catch((err: unknown) => {
    throw dockerError(err, 'ContainerReplaceFailed', `inspect ${args.from.name}`, { container: args.from.name });
  });
  const wasRunning = oldInfo.State.Running;
  const oldHash = oldInfo.Config.Labels[LABELS.specHash];
  await ctx.record({ wasRunning });
  await removeOwnedNamed(d, owner, args.name + NEXT_SUFFIX);
  await removeOwnedNamed(d, owner, args.name + PREV_SUFFIX);
  const next = await createStopped(d, ctx, args, args.name + NEXT_SUFFIX);
  const putBack = async (): Promise<void> => {
    await ignoreMissing(() => next.remove({ force: true }));
    const current = (await old.inspect()).Name.replace(/^\//, '');
    if (current !== args.from.name) await old.rename({ name: args.from.name });
    if (wasRunning) await ignoreStatus(304, () => old.start());
    await dropSecretsIfUnused(d, owner, args.service, args.specHash);
  };
  try {
    if (wasRunning) await ignoreStatus(304, () => old.stop());
    await old.rename({ name: args.name + PREV_SUFFIX });
    await next.rename({ name: args.name });
    await startAndWait(d, ctx, next, args);
  } catch (err) {
    try {
      await putBack();
    } catch (undoErr) {
      ctx.log.error(
        { err: describeError(undoErr), container: args.from.name },
        'putting the old container back failed',
      );
    }
    throw dockerError(err, 'ContainerStartFailed', `replace ${args.name}`, { container: args.name });
  }
  return {
    revert: putBack,
    commit: async () => {
      await ignoreMissing(() => old.remove({ force: true }));
      if (oldHash !== undefined) await dropSecretsIfUnused(d, owner, args.service, oldHash);
    },
  };
}

/** `container.start`: start (or unpause) and wait until ready; undone by stopping it again. */
export async function startContainer(d: DriverDeps, step: Step<'container.start'>, ctx: ExecContext): Promise<Undo> {
  const c = d.docker.getContainer(step.args.id);
  const stop = (): Promise<void> => ignoreStatus(304, () => c.stop());
  try {
    const info = await c.inspect();
    if (info.State.Paused) await c.unpause();
    else await ignoreStatus(304, () => c.start());
    const svc = ctx.desired.app.services.find((s) => s.name === step.args.service);
    await gate(ctx, () =>
      waitReady(d.docker, step.args.id, step.args.name, svc?.healthcheck, ctx.signal, gateSeconds(ctx)),
    );
  } catch (err) {
    await stop().catch(() => undefined);
    throw dockerError(err, 'ContainerStartFailed', `start ${step.args.name}`, { container: step.args.name });
  }
  return { revert: stop };
}

/** `container.rename`: undone by the opposite rename. */
export async function renameContainer(d: DriverDeps, step: Step<'container.rename'>): Promise<Undo> {
  const c = d.docker.getContainer(step.args.id);
  await c.rename({ name: step.args.to }).catch((err: unknown) => {
    throw dockerError(err, 'ContainerRenameFailed', `rename ${step.args.from}`, { container: step.args.from });
  });
  return { revert: () => c.rename({ name: step.args.from }) };
}

/** `container.remove`: stop now (undone by starting it again); remove at commit. */
export async function removeContainer(d: DriverDeps, step: Step<'container.remove'>, ctx: ExecContext): Promise<Undo> {
  const c = d.docker.getContainer(step.args.id);
  let info: ContainerInspect;
  try {
    info = await c.inspect();
    await ctx.record({ wasRunning: info.State.Running });
    if (info.State.Running) await ignoreStatus(304, () => c.stop());
  } catch (err) {
    throw dockerError(err, 'ContainerRemoveFailed', `stop ${step.args.name}`, { container: step.args.name });
  }
  const wasRunning = info.State.Running;
  const hash = info.Config.Labels[LABELS.specHash];
  return {
    revert: async () => {
      // A replace of the same service may have cleared this leftover away already.
      if (wasRunning) await ignoreMissing(() => ignoreStatus(304, () => c.start()));
    },
    commit: async () => {
      await ignoreMissing(() => c.remove({ force: true }));
      if (step.args.service !== undefined && hash !== undefined) {
        await dropSecretsIfUnused(d, ctx.desired.name, step.args.service, hash);
      }
    },
  };
}

/**
 * `container.stop`: stop an app container while the database changes under it; undone by
 * starting it again and waiting until it is ready (its own labelled health check).
 */
export async function stopContainer(d: DriverDeps, step: Step<'container.stop'>, ctx: ExecContext): Promise<Undo> {
  const c = d.docker.getContainer(step.args.id);
  let wasRunning: boolean;
  try {
    const info = await c.inspect();
    wasRunning = info.State.Running;
    await ctx.record({ wasRunning });
    if (wasRunning) await ignoreStatus(304, () => c.stop());
  } catch (err) {
    throw dockerError(err, 'ContainerStopFailed', `stop ${step.args.name}`, { container: step.args.name });
  }
  return {
    revert: async () => {
      if (wasRunning) await startReady(d.docker, step.args.id, step.args.name, ctx.signal);
    },
  };
}

/** Starts an owned container (when it is not running) and waits until it is ready by its labelled spec. */
export async function startReady(docker: DockerClient, id: string, name: string, signal?: AbortSignal): Promise<void> {
  const c = docker.getContainer(id);
  const info = await c.inspect();
  if (info.State.Paused) await c.unpause();
  else if (!info.State.Running) await ignoreStatus(304, () => c.start());
  const spec = parseSpecLabel(info.Config.Labels[LABELS.spec]);
  await waitReady(docker, id, name, spec?.healthcheck, signal);
}

export async function createStopped(
  d: DriverDeps,
  ctx: ExecContext,
  args: ContainerArgs,
  name: string,
): Promise<Container> {
  const svc = serviceFor(ctx.desired, args, ctx.specKey);
  const owner = ctx.desired.name;
  let container: Container | undefined;
  try {
    const secrets = await writeSecretFiles(secretDir(d.stateDir, owner, args.service, args.specHash), svc.secretFiles);
    const config = containerConfig({
      owner,
      revision: ctx.desired.revision,
      name,
      args,
      service: svc,
      secrets,
      extraLabels: d.extraLabels,
    });
    container = await d.docker.createContainer(config);
    for (const net of extraNetworks(args)) {
      await d.docker.getNetwork(net).connect({ Container: container.id, EndpointConfig: { Aliases: [args.service] } });
    }
    return container;
  } catch (err) {
    const made = container;
    if (made !== undefined) await ignoreMissing(() => made.remove({ force: true }));
    await dropSecretsIfUnused(d, owner, args.service, args.specHash);
    throw dockerError(err, 'ContainerCreateFailed', `create ${name}`, { container: name });
  }
}

export async function startAndWait(d: DriverDeps, ctx: ExecContext, c: Container, args: ContainerArgs): Promise<void> {
  try {
    await c.start();
  } catch (err) {
    throw dockerError(err, 'ContainerStartFailed', `start ${args.name}`, { container: args.name });
  }
  await gate(ctx, () => waitReady(d.docker, c.id, args.name, args.spec.healthcheck, ctx.signal, gateSeconds(ctx)));
  const db = ctx.desired.app.database;
  if (db !== undefined && db.service === args.service) {
    await waitDatabaseReady(d.docker, c.id, db, ctx.log, ctx.signal === undefined ? {} : { signal: ctx.signal });
  }
}

type Rollback = DesiredState['policies']['rollback'];

/** policies.rollback.health_timeout_seconds (absent in hand-built test states). */
function gateSeconds(ctx: ExecContext): number | undefined {
  return (ctx.desired.policies.rollback as Rollback | undefined)?.health_timeout_seconds;
}

/** Runs a health gate; with on_failed_health false its failure keeps the container and is reported, not thrown. */
async function gate(ctx: ExecContext, wait: () => Promise<void>): Promise<void> {
  try {
    await wait();
  } catch (err) {
    const keep = (ctx.desired.policies.rollback as Rollback | undefined)?.on_failed_health === false;
    if (!keep || ctx.keptUnhealthy === undefined || !isAgentError(err) || err.code !== 'HealthCheckFailed') throw err;
    ctx.keptUnhealthy(err);
  }
}

/** Removes a leftover container of this owner that holds a temporary name; refuses one of others. */
export async function removeOwnedNamed(d: DriverDeps, owner: string, name: string): Promise<void> {
  const c = d.docker.getContainer(name);
  let info: ContainerInspect;
  try {
    info = await c.inspect();
  } catch (err) {
    if (dockerStatus(err) === 404) return;
    throw dockerError(err, 'ContainerReplaceFailed', `inspect ${name}`, { container: name });
  }
  if (info.Config.Labels[LABELS.owner] !== owner) {
    throw new AgentError('NameConflict', `container ${name} exists and is not owned by ${owner}`, {
      data: { container: name },
    });
  }
  await c.remove({ force: true });
}

/** Removes the secret directory of (owner, service, hash) when no container of that spec is left. */
export async function dropSecretsIfUnused(d: DriverDeps, owner: string, service: string, hash: string): Promise<void> {
  const users = await d.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.owner}=${owner}`, `${LABELS.service}=${service}`, `${LABELS.specHash}=${hash}`] },
  });
  if (users.length === 0) await removeSecretDir(secretDir(d.stateDir, owner, service, hash));
}

export async function ignoreStatus(status: number, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (dockerStatus(err) !== status) throw err;
  }
}
