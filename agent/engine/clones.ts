import type { CloneExecResult, CloneReady, CloneRequest, Clones, CloneStatus } from '../core/clone.ts';
import type { CommandName, DesiredState } from '../core/desired.ts';
import { AgentError } from '../core/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { CloneMachine } from '../machine/clone-machine.ts';

/** What the clone runtime is made of (wired in main.ts; tests pass real clients). */
export interface CloneRuntimeOptions {
  /** Production's appliance name. */
  appliance: string;
  /** Snapshots, stacks and removal on the machine (DockerCloneMachine). */
  machine: CloneMachine;
  /** The agent's state directory; each clone keeps its journal and records under `clones/<name>/`. */
  stateDir: string;
  log: Logger;
  /** Production's desired state in force (the last applied): the data snapshotted and the ingress routing the clone. */
  production: () => DesiredState | undefined;
  /**
   * Runs `fn` while no production cycle runs (the reconciler's `exclusive`). Used only for the
   * instant snapshot, so a clone never sees an update half applied and never holds the loop long.
   */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Asks production for a cycle: its ingress then routes (or stops routing) a clone's host. */
  refreshIngress?: () => void;
  /** Free space on the data path under which a clone is refused (default: 10% of the filesystem and 1 GiB). */
  minFree?: { bytes?: number; fraction?: number };
  now?: () => Date;
}

/**
 * The clone runtime (see agent/core/clone.ts for the contract): clones of production on
 * writable btrfs snapshots, each a stack of its own applied by the same converge as production,
 * beside the loop.
 */
export class CloneRuntime implements Clones {
  constructor(private readonly options: CloneRuntimeOptions) {}

  ensure(req: CloneRequest, _signal?: AbortSignal): Promise<CloneReady> {
    return Promise.reject(new AgentError('CloneFailed', `clone ${req.name}: not built yet`));
  }

  exec(name: string, command: CommandName, _signal?: AbortSignal): Promise<CloneExecResult> {
    return Promise.reject(new AgentError('CloneNotFound', `clone ${name}: cannot run ${command}: not built yet`));
  }

  remove(_name: string): Promise<void> {
    return Promise.resolve();
  }

  list(): CloneStatus[] {
    return [];
  }
}
