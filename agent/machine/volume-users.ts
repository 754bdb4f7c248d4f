import path from 'node:path';
import type { DockerClient } from '../drivers/docker/client.ts';
import type { JsonObject } from '../core/json.ts';
import { LABELS } from '../core/names.ts';
import { ignoreStatus, startReady } from '../drivers/docker/containers.ts';
import { ignoreMissing } from '../drivers/docker/errors.ts';
import { ONE_OFF_LABEL } from '../drivers/docker/one-off.ts';

/** A container stopped so its volumes could be snapshotted or replaced. */
export type StoppedUser = { id: string; name: string };

/** The owner's running containers that mount one of `hostPaths` (or a directory inside one). */
export async function volumeUsers(
  docker: DockerClient,
  owner: string,
  hostPaths: readonly string[],
): Promise<StoppedUser[]> {
  const list = await docker.listContainers({ filters: { label: [`${LABELS.owner}=${owner}`] } });
  const inside = (src: string): boolean =>
    hostPaths.some((p) => {
      const rel = path.relative(p, src);
      return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
    });
  return list
    .filter((c) => !(ONE_OFF_LABEL in c.Labels) && c.Mounts.some((m) => m.Type === 'bind' && inside(m.Source)))
    .map((c) => ({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, '') }));
}

/**
 * Stops the owner's containers that use the volumes; `record` learns which before any is
 * stopped, so that recovery after a crash starts them again.
 */
export async function stopVolumeUsers(
  docker: DockerClient,
  owner: string,
  hostPaths: readonly string[],
  record: (users: StoppedUser[]) => Promise<void>,
): Promise<StoppedUser[]> {
  const users = await volumeUsers(docker, owner, hostPaths);
  await record(users);
  for (const u of users) await ignoreMissing(() => ignoreStatus(304, () => docker.getContainer(u.id).stop()));
  return users;
}

/** Starts containers again and waits until each is ready (its labelled health check). */
export async function startUsers(
  docker: DockerClient,
  users: readonly StoppedUser[],
  signal?: AbortSignal,
): Promise<void> {
  for (const u of users) await ignoreMissing(() => startReady(docker, u.id, u.name, signal));
}

/** The stopped users a step recorded (see stopVolumeUsers). */
export function recordedUsers(output: JsonObject | undefined): StoppedUser[] {
  const raw = output?.['stopped'];
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((u) =>
    u !== null && typeof u === 'object' && !Array.isArray(u) && typeof u['id'] === 'string'
      ? [{ id: u['id'], name: typeof u['name'] === 'string' ? u['name'] : u['id'] }]
      : [],
  );
}

/** The host paths of snapshot volumes. */
export function volumePaths(volumes: readonly { hostPath: string }[]): string[] {
  return volumes.map((v) => v.hostPath);
}

/** Both lists, each container once. */
export function mergeUsers(a: readonly StoppedUser[], b: readonly StoppedUser[]): StoppedUser[] {
  return [...new Map([...a, ...b].map((u) => [u.id, u])).values()];
}
