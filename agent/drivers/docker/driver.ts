import { chown, mkdir } from 'node:fs/promises';
import type { ActualState } from '../../core/actual.ts';
import { AgentError } from '../../core/errors.ts';
import { LABELS } from '../../core/names.ts';
import type { Step } from '../../core/steps.ts';
import type { ExecContext, Executors, Recoverers, Undo } from '../../core/executors.ts';
import {
  createContainer,
  removeContainer,
  renameContainer,
  replaceContainer,
  startContainer,
  stopContainer,
  type DriverDeps,
} from './containers.ts';
import { DockerClient } from './client.ts';
import { dockerError, ignoreMissing } from './errors.ts';
import { observeDocker } from './observe.ts';
import { removeOneOffs, runOneOff, type OneOffRequest, type OneOffResult } from './one-off.ts';
import { pullImage, type RegistryAuth } from './pull.ts';
import { dockerRecoverers, type DockerAction } from './container-recovery.ts';

/** The executors of the Docker actions. */
export type DockerExecutors = Pick<Executors, DockerAction>;

export interface DockerDriverOptions {
  /** The engine client; default: the engine `DOCKER_HOST` names, else the local socket. */
  docker?: DockerClient;
  /** The agent's state directory; secret files go to `<stateDir>/secrets/`. */
  stateDir: string;
  /** Registry credentials, by registry host. */
  registries?: readonly RegistryAuth[];
  /** Labels added to everything the driver creates (tests mark their objects for cleanup). */
  labels?: Record<string, string>;
}

/**
 * The Docker driver: observes what an owner has on the engine and carries out the plan's
 * Docker steps. Every executor returns how to undo what it did; removals happen only at commit.
 * It also runs one-off commands (migrations) in containers of a service's image and spec.
 */
export class DockerDriver {
  readonly docker: DockerClient;
  readonly deps: DriverDeps;
  private readonly registries: readonly RegistryAuth[];
  private built: DockerExecutors | undefined;

  constructor(options: DockerDriverOptions) {
    this.docker = options.docker ?? new DockerClient();
    this.registries = options.registries ?? [];
    this.deps = { docker: this.docker, stateDir: options.stateDir, extraLabels: { ...options.labels } };
  }

  /** Made on first use: a pass with nothing to do does not need them. */
  get executors(): DockerExecutors {
    if (this.built !== undefined) return this.built;
    const d = this.deps;
    this.built = {
      'image.pull': (step, ctx) => this.pull(step, ctx),
      'network.create': (step, ctx) => this.createNetwork(step, ctx),
      'network.remove': (step) => Promise.resolve(this.removeNetwork(step)),
      'volume.create': (step, ctx) => this.createVolume(step, ctx),
      'container.create': (step, ctx) => createContainer(d, step, ctx),
      'container.replace': (step, ctx) => replaceContainer(d, step, ctx),
      'container.start': (step, ctx) => startContainer(d, step, ctx),
      'container.rename': (step) => renameContainer(d, step),
      'container.remove': (step, ctx) => removeContainer(d, step, ctx),
      'container.stop': (step, ctx) => stopContainer(d, step, ctx),
    };
    return this.built;
  }

  /** Undo after a crash of the Docker steps of `owner` (see dockerRecoverers). */
  recoverers(owner: string): Pick<Recoverers, DockerAction> {
    return dockerRecoverers(this.docker, owner);
  }

  /** Runs a command once in a container of a service's image and spec (see runOneOff). */
  runOneOff(request: OneOffRequest): Promise<OneOffResult> {
    return runOneOff(this.deps, request);
  }

  /** Removes one-off containers a crashed run left (`all`: running ones too). */
  async sweepOneOffs(owner: string, all: boolean): Promise<void> {
    try {
      await removeOneOffs(this.docker, owner, { onlyExited: !all });
    } catch (err) {
      throw dockerError(err, 'DockerSweepFailed', 'remove leftover one-off containers', { owner });
    }
  }

  /** What `owner` has on the engine; `hostPaths` are the volume directories to check. */
  observe(owner: string, options: { hostPaths?: readonly string[] } = {}): Promise<ActualState> {
    return observeDocker(this.docker, owner, options.hostPaths);
  }

  private async pull(step: Step<'image.pull'>, ctx: ExecContext): Promise<undefined> {
    await pullImage(this.docker, step.args.ref, this.registries, ctx.signal);
    return undefined;
  }

  private async createNetwork(step: Step<'network.create'>, ctx: ExecContext): Promise<Undo> {
    const { name, network, internal } = step.args;
    try {
      const created = await this.docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        Internal: internal,
        CheckDuplicate: true,
        Labels: { ...this.deps.extraLabels, ...this.ownerLabels(ctx), [LABELS.network]: network },
      });
      return { revert: () => ignoreMissing(() => created.remove()) };
    } catch (err) {
      throw dockerError(err, 'NetworkCreateFailed', `create network ${name}`, { network: name });
    }
  }

  // Done at commit: a stopped container that a revert starts again still needs its network.
  private removeNetwork(step: Step<'network.remove'>): Undo {
    return { commit: () => ignoreMissing(() => this.docker.getNetwork(step.args.id).remove()) };
  }

  // Volumes are never removed, also not on revert: a volume made by a failed apply is reported
  // as orphaned (or used by the next one) rather than deleted with what was written to it.
  private async createVolume(step: Step<'volume.create'>, ctx: ExecContext): Promise<undefined> {
    const { name, hostPath, owner, volume } = step.args;
    try {
      if (hostPath !== undefined) {
        await mkdir(hostPath, { recursive: true, mode: 0o755 });
        if (owner !== undefined) {
          const m = /^(\d+):(\d+)$/.exec(owner);
          if (m === null) throw new AgentError('VolumeOwnerInvalid', `volume ${volume}: owner must be uid:gid`);
          await chown(hostPath, Number(m[1]), Number(m[2]));
        }
      } else if (name !== undefined) {
        await this.docker.createVolume({
          Name: name,
          Labels: { ...this.deps.extraLabels, ...this.ownerLabels(ctx), [LABELS.volume]: volume },
        });
      }
    } catch (err) {
      throw dockerError(err, 'VolumeCreateFailed', `create volume ${volume}`, { volume });
    }
    return undefined;
  }

  private ownerLabels(ctx: ExecContext): Record<string, string> {
    return { [LABELS.owner]: ctx.desired.name, [LABELS.revision]: ctx.desired.revision };
  }
}
