import { AgentError } from '../../core/errors.ts';
import type { DockerClient } from './client.ts';
import { dockerError, dockerStatus } from './errors.ts';
import { followProgress, type ProgressMessage } from './streams.ts';

/** Credentials for one registry (from the bootstrap config); never logged. */
export interface RegistryAuth {
  /** Registry host as in image references, e.g. `127.0.0.1:5000` or `registry.example.com`. */
  serveraddress: string;
  username: string;
  password: string;
}

/** Registry host of a reference (`docker.io` when it names none). */
export function registryOf(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  const isHost = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? first : 'docker.io';
}

/** `{ fromImage, tag }` for the pull API: the digest as tag for `repo@sha256:…` (a pull by digest). */
export function pullTarget(ref: string): { fromImage: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) {
    const name = ref.slice(0, at);
    const colon = name.lastIndexOf(':');
    return { fromImage: colon > name.lastIndexOf('/') ? name.slice(0, colon) : name, tag: ref.slice(at + 1) };
  }
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/')
    ? { fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) }
    : { fromImage: ref, tag: 'latest' };
}

/**
 * Pulls an image, with the credentials of its registry when there are any. Errors the engine
 * reports inside the progress stream (unknown manifest, denied) fail with `ImagePullFailed`;
 * one for content that does not exist is terminal.
 */
export async function pullImage(
  docker: DockerClient,
  ref: string,
  registries: readonly RegistryAuth[],
  signal?: AbortSignal,
): Promise<void> {
  const registry = registryOf(ref);
  const auth = registries.find((r) => r.serveraddress.replace(/^https?:\/\//, '').replace(/\/$/, '') === registry);
  const target = pullTarget(ref);
  let messages: ProgressMessage[];
  try {
    const stream = await docker.createImage(target, {
      ...(auth === undefined
        ? {}
        : { authconfig: { username: auth.username, password: auth.password, serveraddress: registry } }),
      ...(signal === undefined ? {} : { signal }),
    });
    messages = await followProgress(stream);
  } catch (err) {
    const e = dockerError(err, 'ImagePullFailed', `pull ${ref}`, {
      ref,
      registry,
      withCredentials: auth !== undefined,
    });
    // The engine answers 404 when the registry has no such image: retrying cannot help.
    if (dockerStatus(err) !== 404) throw e;
    throw new AgentError(e.code, e.message, { terminal: true, data: e.data, cause: err });
  }
  const failed = messages.find((m) => m.error !== undefined || m.errorDetail?.message !== undefined);
  if (failed !== undefined) {
    const message = failed.errorDetail?.message ?? failed.error ?? 'unknown error';
    throw new AgentError('ImagePullFailed', `pull ${ref}: ${message}`, {
      terminal: /manifest unknown|not found/i.test(message),
      data: { ref, registry, withCredentials: auth !== undefined },
    });
  }
}
