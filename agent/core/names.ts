/** Label keys on every object the agent creates; `owner` is what "owned" means. */
export const LABELS = {
  owner: 'appliance.owner',
  revision: 'appliance.revision',
  service: 'appliance.service',
  specHash: 'appliance.spec-hash',
  /** The normalized, secret-free ContainerSpec as JSON: what the planner diffs against. */
  spec: 'appliance.spec',
  /** Comma-separated services this one depends on (orders removals of pruned services). */
  dependsOn: 'appliance.depends-on',
  network: 'appliance.network',
  volume: 'appliance.volume',
} as const;

/** Suffixes of the temporary names a replace uses; an owned container with one is a leftover. */
export const NEXT_SUFFIX = '-next';
export const PREV_SUFFIX = '-prev';

/** Docker name of a service's container. */
export function containerName(owner: string, service: string): string {
  return `${owner}-${service}`;
}

/**
 * Docker name of a network. The spec (only `internal` today) is part of the name, so a change
 * of spec creates a new network and moves containers to it instead of mutating one in place.
 * App network names cannot contain '.', so the suffix cannot collide with another network.
 */
export function networkName(owner: string, network: string, internal: boolean): string {
  return `${owner}-${network}${internal ? '.internal' : ''}`;
}

/** Docker name of a named volume. */
export function volumeName(owner: string, volume: string): string {
  return `${owner}-${volume}`;
}
