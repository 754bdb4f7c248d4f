import type { CommandName, DesiredState } from './desired.ts';

/**
 * The clone contract (issue #15 items 3 and 4). A clone is a second stack of the appliance on a
 * writable snapshot of production's database and files: containers `<appliance>-<clone>-<service>`,
 * its own networks and data directory, host name `<clone>.<domain>` through production's ingress.
 * It never touches production data and is never backed up. Clones made from appliance.yml
 * `clones` have purpose `clone`; pre-flight makes short-lived ones with purpose `preflight`.
 * The engine-level runtime is `CloneRuntime` (agent/engine/clones.ts).
 */
export type ClonePurpose = 'clone' | 'preflight';

/** What `CloneRuntime.ensure` brings up. */
export interface CloneRequest {
  /** Clone name (appliance.yml pattern: `[a-z0-9-]`, at most 32); unique among the appliance's clones. */
  name: string;
  /**
   * The state the clone runs: production's desired state for an appliance.yml clone, a review
   * head's for a pre-flight. Its images are pulled and its migrations run on the clone's copy of
   * the data (health-gated). The runtime renames it, moves its volumes to the clone's directory,
   * drops the ingress and production's ports, and lays `settings` over the app's environment.
   */
  desired: DesiredState;
  /** App settings of the clone: the app's `clone.settings` with the entry's `settings` on top (see cloneSettings). */
  settings: Readonly<Record<string, string>>;
  /** When the clone is removed (with its snapshot) at the latest. */
  expiresAt: Date;
  purpose: ClonePurpose;
}

/** What `ensure` reports once the clone runs healthy. */
export interface CloneReady {
  /**
   * Milliseconds the clone's migration took (the app.migrate step: the downtime the real
   * update will have); undefined when nothing was migrated.
   */
  migrationMs: number | undefined;
  /** `<clone>.<domain>`, routed by production's ingress; undefined when the appliance runs no ingress. */
  host: string | undefined;
}

/** What `exec` reports: the command's exit code and the end of its output (secret-free). */
export interface CloneExecResult {
  exitCode: number;
  tail: string;
}

/**
 * A clone's life: `creating` (snapshot, pull, migrate, start), `running`, `refused` (not made,
 * e.g. too little free space: `reason` says why), `failed` (made, but its stack did not come up
 * healthy: `reason`), `removing`, `expired` (an appliance.yml entry whose clone expired and was
 * removed: not made again until the entry is deleted and added anew).
 */
export type CloneState = 'creating' | 'running' | 'refused' | 'failed' | 'removing' | 'expired';

/** One clone in /status (`clones`). Secret-free. */
export interface CloneStatus {
  name: string;
  purpose: ClonePurpose;
  state: CloneState;
  host?: string;
  /** ISO time the clone's snapshot was taken. */
  createdAt?: string;
  /** ISO time it expires. */
  expiresAt: string;
  /** Revision of the desired state it runs. */
  revision?: string;
  reason?: { code: string; message: string };
}

/** The runtime as pre-flight and the agent use it (see CloneRuntime for the implementation). */
export interface Clones {
  /**
   * Brings the clone `req.name` up and resolves once it runs healthy: takes the writable snapshot
   * (refused with `CloneNoSpace` below the free-space threshold), then applies `req.desired` to
   * the clone (pull, migrate, start, health gates) beside production's loop. An existing clone of
   * that name is reused: its stack is brought to `req.desired` (so a second call is cheap).
   * Throws an AgentError (`CloneNoSpace`, `CloneFailed`, `MigrationFailed`, …) when it cannot;
   * the clone is then left for `remove` (its status says why). `signal` aborts the apply.
   */
  ensure(req: CloneRequest, signal?: AbortSignal): Promise<CloneReady>;
  /**
   * Runs one of the app's commands (e.g. `smoke_test`) in a one-off container of the clone's
   * stack (the command's service, image, environment and timeout from the clone's desired state).
   */
  exec(name: string, command: CommandName, signal?: AbortSignal): Promise<CloneExecResult>;
  /** Removes the clone's containers, networks, named volumes and data; no-op when it is gone. */
  remove(name: string): Promise<void>;
  /** Every clone the runtime knows of, including refused and failed ones (for /status). */
  list(): CloneStatus[];
}

/** A clone's app settings: the app definition's `clone.settings`, then the entry's `settings`. */
export function cloneSettings(
  appDefaults: Readonly<Record<string, string>>,
  entry: Readonly<Record<string, string | number | boolean>>,
): Record<string, string> {
  const out: Record<string, string> = { ...appDefaults };
  for (const [k, v] of Object.entries(entry)) out[k] = String(v);
  return out;
}

/** Docker owner (and container name prefix) of a clone's stack: `<appliance>-<clone>`. */
export function cloneOwner(appliance: string, clone: string): string {
  return `${appliance}-${clone}`;
}

/** The clone's host name: `<clone>.<domain>`. */
export function cloneHost(clone: string, domain: string): string {
  return `${clone}.${domain}`;
}
