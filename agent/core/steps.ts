import type { SnapshotKind } from './actual.ts';
import type { ServiceReason } from './ingress-caddy.ts';
import type { ContainerSpec } from './normalize.ts';

/**
 * Arguments of each step action. Adding an action here makes every executor map that lacks it
 * a compile error (see `Executors` in agent/engine/executors.ts). Arguments hold no secret
 * value: specs carry digests, and executors read values from the desired state they are given.
 */
export interface StepArgs {
  /** Pull an image; by digest when the reference has one. */
  'image.pull': { ref: string; neededBy: string[] };
  'network.create': { name: string; network: string; internal: boolean };
  /** Runs when the whole apply has succeeded, so containers it served can still be put back. */
  'network.remove': { name: string; id: string };
  /** A Docker named volume (`name`) or a host directory (`hostPath`, made with `owner`). */
  'volume.create': { volume: string; name?: string; hostPath?: string; owner?: string };
  /** Create and start a container; wait for its health check when it has one. */
  'container.create': ContainerArgs;
  /** Create the new container, stop the old, start the new and wait for health; on failure put the old back. */
  'container.replace': ContainerArgs & { from: { id: string; name: string } };
  /** Start an owned container that is not running. */
  'container.start': { name: string; id: string; service: string };
  /** Give an owned container its expected name back. */
  'container.rename': { id: string; from: string; to: string; service: string };
  /** Stop now; remove when the whole apply has succeeded. */
  'container.remove': { name: string; id: string; service?: string };
  /** Stop an app container while the database changes under it; undone by starting it again. */
  'container.stop': { name: string; id: string; service: string };
  /** Snapshot every data volume together (read-only); the name (kind + time) is chosen when taken. */
  'snapshot.create': { kind: SnapshotKind; root: string; volumes: SnapshotVolume[] };
  /**
   * Put a snapshot's volumes in place of the live ones (users stopped, then started again).
   * Data written since the snapshot is lost; `safety` is the snapshot step that keeps it.
   */
  'snapshot.restore': { name: string; createdAt: string; root: string; volumes: SnapshotVolume[]; safety: string };
  /**
   * Run the app's migrate command in a one-off container of `image`; when the plan could not
   * ask (`asked` false), its migration status is asked first (nothing is done when up to date).
   * Undone by restoring the snapshot of step `snapshot`.
   */
  'app.migrate': { service: string; image: string; asked: boolean; pending: string[]; snapshot?: string };
  /**
   * Run the app's reverse_migrate command with the newer `image` (the one the database was
   * migrated by), handing it `targetState` (the older image's migration state) on stdin.
   */
  'app.reverse-migrate': {
    service: string;
    image: string;
    targetImage: string;
    targetState: string;
    snapshot: string;
  };
  /**
   * env.yml `recover_from_backup` / `recover_from_dump` on an appliance whose app never ran:
   * restore files and database (latest backup, or the dump) before its first start. The
   * executor checks again that there is no data; with data it does nothing.
   */
  'data.recover': { source: 'backup' | 'dump'; dump?: string };
  /**
   * Load the ingress configuration rendered from the desired state (see ingressConfig): the app's
   * routes (`app`), or the service page with `reason` while the app must take no traffic. Undone
   * by loading the configuration it replaced.
   */
  'ingress.load': { mode: 'app' } | { mode: 'service'; reason: ServiceReason };
}

/** A data or database volume as snapshots hold it. */
export type SnapshotVolume = { volume: string; hostPath: string };

export interface ContainerArgs {
  name: string;
  service: string;
  spec: ContainerSpec;
  specHash: string;
  dependsOn: string[];
}

export type Action = keyof StepArgs;

/** What a step can do to the machine: `destructive` loses data and needs a snapshot first. */
export type Risk = 'safe' | 'disruptive' | 'destructive';

/** One step of a plan. */
export type Step<A extends Action = Action> = {
  [K in A]: {
    /** Unique in the plan, e.g. `container.replace:web`. */
    id: string;
    action: K;
    /** Why, for people; never a secret value. */
    reason: string;
    /** Ids of steps that must run before this one. */
    after: string[];
    risk: Risk;
    args: StepArgs[K];
  };
}[A];

/** The risk of each action. */
export const RISK: { [A in Action]: Risk } = {
  'image.pull': 'safe',
  'network.create': 'safe',
  'network.remove': 'disruptive',
  'volume.create': 'safe',
  'container.create': 'safe',
  'container.replace': 'disruptive',
  'container.start': 'safe',
  'container.rename': 'safe',
  'container.remove': 'disruptive',
  'container.stop': 'disruptive',
  'snapshot.create': 'safe',
  'snapshot.restore': 'destructive',
  'app.migrate': 'destructive',
  'app.reverse-migrate': 'destructive',
  // Only ever writes into an empty appliance.
  'data.recover': 'safe',
  'ingress.load': 'disruptive',
};

/**
 * The phase of each action. A plan is applied in two: its downloads first, as a transaction of
 * their own (nothing is down meanwhile, and the new images can then be asked about their
 * migrations), then the changes, planned again after the downloads.
 */
export type Phase = 'download' | 'change';

export const PHASE: { [A in Action]: Phase } = {
  'image.pull': 'download',
  'network.create': 'change',
  'network.remove': 'change',
  'volume.create': 'change',
  'container.create': 'change',
  'container.replace': 'change',
  'container.start': 'change',
  'container.rename': 'change',
  'container.remove': 'change',
  'container.stop': 'change',
  'snapshot.create': 'change',
  'snapshot.restore': 'change',
  'app.migrate': 'change',
  'app.reverse-migrate': 'change',
  'data.recover': 'change',
  'ingress.load': 'change',
};

/** Actions that change the database's contents: each needs a snapshot before it. */
export const DATA_CHANGING: readonly Action[] = ['app.migrate', 'app.reverse-migrate', 'snapshot.restore'];

/** The object a step changes, for plans and change sets (e.g. `container demo-web`). */
export function subjectOf(step: Step): string {
  switch (step.action) {
    case 'image.pull':
      return `image ${step.args.ref}`;
    case 'network.create':
    case 'network.remove':
      return `network ${step.args.name}`;
    case 'volume.create':
      return step.args.hostPath === undefined
        ? `volume ${step.args.name ?? step.args.volume}`
        : `directory ${step.args.hostPath}`;
    case 'container.rename':
      return `container ${step.args.from}`;
    case 'container.create':
    case 'container.replace':
    case 'container.start':
    case 'container.remove':
    case 'container.stop':
      return `container ${step.args.name}`;
    case 'snapshot.create':
      return `snapshot ${step.args.kind} of ${step.args.volumes.map((v) => v.volume).join(', ')}`;
    case 'snapshot.restore':
      return `snapshot ${step.args.name}`;
    case 'app.migrate':
    case 'app.reverse-migrate':
      return `database (with ${step.args.image})`;
    case 'ingress.load':
      return step.args.mode === 'app' ? "ingress (the app's routes)" : `ingress (service page: ${step.args.reason})`;
    case 'data.recover':
      return step.args.source === 'backup'
        ? 'data (from the latest backup)'
        : `database (from ${step.args.dump ?? ''})`;
  }
}
