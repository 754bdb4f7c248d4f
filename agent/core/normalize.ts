import type { DesiredHealthcheck, DesiredService, DesiredState, DesiredValue } from './desired.ts';
import { containerName, networkName, volumeName } from './names.ts';
import { hashOf, secretDigest } from './spec-hash.ts';

/** An environment value in a spec: the literal, or the keyed digest of a secret. */
export type SpecValue = { value: string } | { digest: string };

export interface SpecPort {
  container: number;
  /** 0: any free port. */
  host: number;
  hostIp: string;
  protocol: 'tcp' | 'udp';
}

export interface SpecMount {
  /** `volume`: a Docker named volume; `bind`: a host directory. */
  type: 'volume' | 'bind';
  source: string;
  target: string;
  readOnly: boolean;
}

export interface SpecSecretFile {
  target: string;
  owner: string;
  digest: string;
}

/**
 * One container as the agent compares it: built from the desired service, and stored (as the
 * `appliance.spec` label) on the container it creates. Holds no secret value: secrets appear
 * as keyed digests, so the spec can be labelled, logged and diffed.
 */
export interface ContainerSpec {
  image: string;
  command?: string[];
  entrypoint?: string[];
  env: Record<string, SpecValue>;
  ports: SpecPort[];
  mounts: SpecMount[];
  secretFiles: SpecSecretFile[];
  /** Docker network names, sorted; the container is reachable on each as its service name. */
  networks: string[];
  healthcheck?: DesiredHealthcheck;
  restart: DesiredService['restart'];
  /** The service's own labels (the agent's labels are not part of the spec). */
  labels: Record<string, string>;
  user?: string;
  workingDir?: string;
  memoryLimit?: string;
  stopTimeoutSeconds: number;
}

/** A desired container: its name, spec and hash, and what it needs. */
export interface DesiredContainer {
  service: string;
  name: string;
  spec: ContainerSpec;
  specHash: string;
  dependsOn: string[];
  /** Desired names of the volumes it mounts. */
  volumes: string[];
}

export interface DesiredNetworkObject {
  /** Name in the app. */
  network: string;
  /** Docker name. */
  name: string;
  internal: boolean;
}

export interface DesiredVolumeObject {
  /** Name in the app. */
  volume: string;
  /** Docker name of a named volume. */
  name?: string;
  /** Host directory of a data, database or volatile volume. */
  hostPath?: string;
  owner?: string;
}

/** The networks the desired state needs, with their Docker names. */
export function desiredNetworks(desired: DesiredState): DesiredNetworkObject[] {
  return desired.app.networks.map((n) => ({
    network: n.name,
    name: networkName(desired.name, n.name, n.internal),
    internal: n.internal,
  }));
}

/** The volumes the desired state needs: Docker named volumes or host directories. */
export function desiredVolumes(desired: DesiredState): DesiredVolumeObject[] {
  return desired.app.volumes.map((v) => ({
    volume: v.name,
    ...(v.hostPath === undefined ? { name: volumeName(desired.name, v.name) } : { hostPath: v.hostPath }),
    ...(v.owner === undefined ? {} : { owner: v.owner }),
  }));
}

/** Host directories the desired volumes live in (what `observe` is asked to check). */
export function hostPathsOf(desired: DesiredState): string[] {
  return desiredVolumes(desired).flatMap((v) => (v.hostPath === undefined ? [] : [v.hostPath]));
}

/** The desired containers in start order, each with its normalized spec and spec hash. */
export function desiredContainers(desired: DesiredState, specKey: string): DesiredContainer[] {
  return desired.app.services.map((svc) => {
    const spec = serviceSpec(desired, svc, specKey);
    return {
      service: svc.name,
      name: containerName(desired.name, svc.name),
      spec,
      specHash: hashOf(spec),
      dependsOn: [...svc.dependsOn],
      volumes: [...new Set(svc.mounts.map((m) => m.volume))],
    };
  });
}

/** The spec of one desired service (secrets as digests under `specKey`). */
export function serviceSpec(desired: DesiredState, svc: DesiredService, specKey: string): ContainerSpec {
  const nets = new Map(desired.app.networks.map((n) => [n.name, n.internal]));
  const vols = new Map(desired.app.volumes.map((v) => [v.name, v.hostPath]));
  const specValue = (name: string, v: DesiredValue): SpecValue =>
    v.secret ? { digest: secretDigest(specKey, name, v.value) } : { value: v.value };
  const env: Record<string, SpecValue> = {};
  for (const key of Object.keys(svc.environment).sort()) {
    const v = svc.environment[key];
    if (v !== undefined) env[key] = specValue(key, v);
  }
  return {
    image: svc.image,
    ...(svc.command === undefined ? {} : { command: [...svc.command] }),
    ...(svc.entrypoint === undefined ? {} : { entrypoint: [...svc.entrypoint] }),
    env,
    ports: svc.ports
      .map((p) => ({ container: p.container, host: p.host, hostIp: p.hostIp, protocol: p.protocol }))
      .sort((a, b) => cmp(portKey(a), portKey(b))),
    mounts: svc.mounts
      .map((m): SpecMount => {
        const hostPath = vols.get(m.volume);
        return hostPath === undefined
          ? { type: 'volume', source: volumeName(desired.name, m.volume), target: m.target, readOnly: m.readOnly }
          : { type: 'bind', source: hostPath, target: m.target, readOnly: m.readOnly };
      })
      .sort((a, b) => cmp(a.target, b.target)),
    secretFiles: svc.secretFiles
      .map((f) => ({ target: f.target, owner: f.owner, digest: secretDigest(specKey, f.target, f.value.value) }))
      .sort((a, b) => cmp(a.target, b.target)),
    networks: svc.networks.map((n) => networkName(desired.name, n, nets.get(n) ?? false)).sort(),
    ...(svc.healthcheck === undefined ? {} : { healthcheck: structuredClone(svc.healthcheck) }),
    restart: svc.restart,
    labels: { ...svc.labels },
    ...(svc.user === undefined ? {} : { user: svc.user }),
    ...(svc.workingDir === undefined ? {} : { workingDir: svc.workingDir }),
    ...(svc.memoryLimit === undefined ? {} : { memoryLimit: svc.memoryLimit }),
    stopTimeoutSeconds: svc.stopTimeoutSeconds,
  };
}

/**
 * Reads a spec back from the `appliance.spec` label; undefined when it is missing or not a spec
 * (a container made by an older agent, or a label edited by hand).
 */
export function parseSpecLabel(text: string | undefined): ContainerSpec | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const ok =
    typeof v['image'] === 'string' &&
    isObject(v['env']) &&
    Array.isArray(v['ports']) &&
    Array.isArray(v['mounts']) &&
    Array.isArray(v['secretFiles']) &&
    Array.isArray(v['networks']) &&
    typeof v['restart'] === 'string' &&
    isObject(v['labels']) &&
    typeof v['stopTimeoutSeconds'] === 'number';
  return ok ? (value as ContainerSpec) : undefined;
}

function isObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function portKey(p: SpecPort): string {
  return `${p.hostIp}:${String(p.host).padStart(5, '0')}:${String(p.container).padStart(5, '0')}/${p.protocol}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
