import { stat } from 'node:fs/promises';
import type {
  ActualContainer,
  ActualImage,
  ActualNetwork,
  ActualState,
  ActualVolume,
  ContainerState,
  HealthState,
} from '../../core/actual.ts';
import { LABELS } from '../../core/names.ts';
import { parseSpecLabel, type ContainerSpec } from '../../core/normalize.ts';
import type { ContainerInspect, DockerClient, NetworkSummary } from './client.ts';
import { dockerError, dockerStatus } from './errors.ts';
import { ONE_OFF_LABEL } from './one-off.ts';

const STATES: readonly ContainerState[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
const RESTART: readonly ContainerSpec['restart'][] = ['no', 'always', 'unless-stopped', 'on-failure'];

/**
 * Reads what `owner` has on the engine: its containers (inspected for health, restart policy
 * and networks), networks and volumes by the owner label, every image, which of `hostPaths`
 * exist, and the names of objects owned by someone else.
 */
export async function observeDocker(
  docker: DockerClient,
  owner: string,
  hostPaths: readonly string[] = [],
): Promise<ActualState> {
  try {
    const [containerList, networkList, volumeList, imageList] = await Promise.all([
      docker.listContainers({ all: true }),
      docker.listNetworks(),
      docker.listVolumes(),
      docker.listImages(),
    ]);
    const owned = (labels: Record<string, string> | null | undefined): boolean => labels?.[LABELS.owner] === owner;
    const networks: ActualNetwork[] = networkList.filter((n) => owned(n.Labels)).map((n) => toNetwork(n));
    // Another owner's network our container is on is that owner's business (a clone's link to
    // production's ingress): not part of our container's spec.
    const networkIds = new Set(
      networkList.filter((n) => n.Labels?.[LABELS.owner] === undefined || owned(n.Labels)).map((n) => n.Id),
    );
    const containers: ActualContainer[] = [];
    // One-off command containers are the owner's but not part of the app.
    for (const c of containerList.filter((x) => owned(x.Labels) && !(ONE_OFF_LABEL in x.Labels))) {
      const inspected = await inspectOrUndefined(docker, c.Id);
      if (inspected !== undefined) containers.push(toContainer(inspected, networkIds));
    }
    // Older engines send `Volumes: null` when there are none.
    const allVolumes = volumeList.Volumes ?? [];
    const volumes: ActualVolume[] = allVolumes
      .filter((v) => owned(v.Labels))
      .map((v) => {
        const labels = v.Labels ?? {};
        const volume = labels[LABELS.volume];
        return { name: v.Name, ...(volume === undefined ? {} : { volume }), labels };
      });
    const images: ActualImage[] = imageList.map((img) => ({
      id: img.Id,
      tags: (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
      digests: (img.RepoDigests ?? []).filter((d) => !d.startsWith('<none>')),
    }));
    const existing: string[] = [];
    for (const p of hostPaths) if (await isDirectory(p)) existing.push(p);
    return {
      owner,
      containers,
      networks,
      volumes,
      hostPaths: existing,
      images,
      foreign: {
        containers: containerList
          .filter((c) => !owned(c.Labels))
          .flatMap((c) => c.Names.map((n) => n.replace(/^\//, ''))),
        networks: networkList.filter((n) => !owned(n.Labels)).map((n) => n.Name),
        volumes: allVolumes.filter((v) => !owned(v.Labels)).map((v) => v.Name),
      },
    };
  } catch (err) {
    throw dockerError(err, 'DockerObserveFailed', 'observe the Docker engine', { owner });
  }
}

function toNetwork(n: NetworkSummary): ActualNetwork {
  const labels = n.Labels ?? {};
  const network = labels[LABELS.network];
  return { id: n.Id, name: n.Name, ...(network === undefined ? {} : { network }), internal: n.Internal, labels };
}

/**
 * The container as the planner sees it. What can change on a live container (restart policy,
 * networks) is read from the engine and laid over the labelled spec; a network whose id no
 * longer exists (removed and made again) does not count as connected.
 */
function toContainer(info: ContainerInspect, networkIds: ReadonlySet<string>): ActualContainer {
  const labels = info.Config.Labels;
  const connected = Object.entries(info.NetworkSettings.Networks)
    .filter(([, ep]) => networkIds.has(ep.NetworkID))
    .map(([name]) => name)
    .sort();
  const restartName = info.HostConfig.RestartPolicy?.Name ?? '';
  const restart = RESTART.find((r) => r === restartName) ?? 'no';
  const labelled = parseSpecLabel(labels[LABELS.spec]);
  const spec = labelled === undefined ? undefined : { ...labelled, restart, networks: connected };
  const state = STATES.find((s) => s === info.State.Status) ?? 'dead';
  const healthStatus = info.State.Health?.Status;
  const health: HealthState =
    healthStatus === 'healthy' || healthStatus === 'unhealthy' || healthStatus === 'starting' ? healthStatus : 'none';
  const service = labels[LABELS.service];
  const revision = labels[LABELS.revision];
  const specHash = labels[LABELS.specHash];
  const dependsOn = labels[LABELS.dependsOn];
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    ...(service === undefined ? {} : { service }),
    ...(revision === undefined ? {} : { revision }),
    imageRef: info.Config.Image,
    imageId: info.Image,
    ...(specHash === undefined ? {} : { specHash }),
    ...(spec === undefined ? {} : { spec }),
    dependsOn: dependsOn === undefined || dependsOn === '' ? [] : dependsOn.split(','),
    networks: connected,
    ...(state === 'running' ? { addresses: addressesOf(info, connected) } : {}),
    state,
    health,
    ...(state === 'running' ? {} : { exitCode: info.State.ExitCode }),
    labels,
  };
}

function addressesOf(info: ContainerInspect, connected: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of connected) {
    const ip = info.NetworkSettings.Networks[name]?.IPAddress;
    if (ip !== undefined && ip !== '') out[name] = ip;
  }
  return out;
}

async function inspectOrUndefined(docker: DockerClient, id: string): Promise<ContainerInspect | undefined> {
  try {
    return await docker.getContainer(id).inspect();
  } catch (err) {
    // Removed between list and inspect: it is not there.
    if (dockerStatus(err) === 404) return undefined;
    throw err;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
