import type { CloneExecResult, ClonePurpose } from '../core/clone.ts';
import type { CommandName, DesiredState } from '../core/desired.ts';
import type { MachineDriver } from '../core/executors.ts';

/** A clone's record beside its data (`<data>/clones/<name>/clone.json`): what survives an agent restart. */
export interface CloneRecord {
  name: string;
  purpose: ClonePurpose;
  createdAt: string;
  expiresAt: string;
  revision?: string;
}

/** A clone found on the machine; without a record it is half made (or its data is gone). */
export interface FoundClone {
  name: string;
  record?: CloneRecord;
}

/** Where a clone's data is and how much room the data path has. */
export interface CloneSpace {
  /** Production's data path. */
  root: string;
  freeBytes: number;
  totalBytes: number;
}

/**
 * What the clone runtime (engine/clones.ts) needs of the machine: the writable snapshot, a
 * machine driver for the clone's stack, the link from production's ingress to it, one-off
 * commands, and removal. Implemented with Docker and the snapshot driver in DockerCloneMachine.
 */
export interface CloneMachine {
  /** Free space on production's data path (undefined: the app has no data volume to snapshot). */
  space(production: DesiredState): Promise<CloneSpace | undefined>;
  /**
   * Takes writable snapshots of production's data and database volumes into the clone's
   * directory and writes its record. Refused (`CloneUnsupported`) when the volumes cannot be
   * snapshotted atomically while production runs (not btrfs subvolumes).
   */
  snapshot(production: DesiredState, record: CloneRecord): Promise<void>;
  /**
   * Deletes the read-only `CLONE` snapshots of production's data path that no snapshot in
   * progress holds: a crash between a clone's base snapshot and its deletion leaves one. Never
   * touches snapshots of other kinds.
   */
  sweep(production: DesiredState): Promise<void>;
  /** The clone's record; undefined when it has no data directory. */
  record(production: DesiredState, name: string): Promise<CloneRecord | undefined>;
  /** Every clone with a data directory or a container of this appliance (leftovers after a restart). */
  found(production: DesiredState): Promise<FoundClone[]>;
  /**
   * `desired` as the clone runs it: owner `<appliance>-<clone>`, volumes in the clone's directory,
   * no ingress and no host ports, `settings` over the app's environment; with `host` (the
   * clone's host name on the ingress), production's host names in the environment replaced by it.
   */
  cloneState(
    production: DesiredState,
    desired: DesiredState,
    name: string,
    settings: Readonly<Record<string, string>>,
    host?: string,
  ): DesiredState;
  /** The machine driver and state directory the clone's stack is converged with. */
  driver(cloneDesired: DesiredState, name: string): Promise<{ driver: MachineDriver; stateDir: string }>;
  /** Connects production's ingress to the clone's network of its routed service (idempotent). */
  link(production: DesiredState, cloneDesired: DesiredState): Promise<void>;
  /** Loads production's ingress again with the clones' sites as they are now (no-op without an ingress). */
  reloadIngress(production: DesiredState): Promise<void>;
  /** Runs one of the app's commands in a one-off container of the clone's stack. */
  exec(cloneDesired: DesiredState, name: string, command: CommandName, signal?: AbortSignal): Promise<CloneExecResult>;
  /** Removes the clone's containers, networks, volumes, state and data directory. Idempotent. */
  remove(production: DesiredState, name: string): Promise<void>;
}
