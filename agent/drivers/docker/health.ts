import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredHealthcheck } from '../../core/desired.ts';
import { AgentError } from '../../core/errors.ts';
import type { ContainerInspect, DockerClient } from './client.ts';
import { execInContainer } from './container-exec.ts';

/**
 * Waits until a just-started container is ready: with no health check, that it is still
 * running; with a `cmd` check, Docker's health status, or the check command run by the agent
 * passing first (Docker runs its first check only one interval after the start: 5 s of a
 * PostgreSQL that is ready in a fraction of that); with an `http` check, an HTTP answer
 * with the expected status, probed from the host (the images need no curl) at the
 * container's address, or at its published port. Fails with `ContainerStartFailed` when the
 * container stops, `HealthCheckFailed` when it is unhealthy or not healthy in time.
 *
 * `timeoutSeconds` (policies.rollback.health_timeout_seconds) is the gate's timeout when given:
 * Docker's `unhealthy` then does not end the wait early, as the app may still come up in time.
 * Without it (undoing a step, tests) the budget follows the check's own settings.
 */
export async function waitReady(
  docker: DockerClient,
  id: string,
  name: string,
  hc: DesiredHealthcheck | undefined,
  signal?: AbortSignal,
  timeoutSeconds?: number,
): Promise<void> {
  const container = docker.getContainer(id);
  const budgetMs =
    hc === undefined
      ? 1_000
      : timeoutSeconds !== undefined
        ? timeoutSeconds * 1000
        : (hc.startPeriodSeconds + (hc.intervalSeconds + hc.timeoutSeconds) * (hc.retries + 1)) * 1000 + 5_000;
  const started = Date.now();
  const deadline = started + budgetMs;
  let last = 'not checked yet';
  for (;;) {
    signal?.throwIfAborted();
    const info = await container.inspect();
    if (!info.State.Running || info.State.Restarting) {
      throw new AgentError('ContainerStartFailed', `${name} stopped after start (exit code ${info.State.ExitCode})`, {
        data: { container: name, exitCode: info.State.ExitCode, status: info.State.Status },
      });
    }
    if (hc === undefined) {
      if (Date.now() >= deadline) return;
    } else if (hc.http !== undefined) {
      const url = probeUrl(info, hc.http.port, hc.http.path);
      const status = url === undefined ? undefined : await probe(url, hc.timeoutSeconds * 1000);
      if (status === hc.http.status) return;
      last = url === undefined ? 'no address to probe' : `HTTP ${status ?? 'no answer'} from ${hc.http.path}`;
    } else {
      const health = info.State.Health?.Status;
      if (health === 'healthy') return;
      if (health === 'unhealthy' && timeoutSeconds === undefined) {
        throw new AgentError('HealthCheckFailed', `${name} is unhealthy`, { data: { container: name } });
      }
      if (hc.cmd !== undefined && (await passes(docker, id, hc.cmd, hc.timeoutSeconds * 1000))) return;
      last = `health ${health ?? 'unknown'}`;
    }
    if (Date.now() >= deadline) {
      throw new AgentError('HealthCheckFailed', `${name} did not become healthy in ${budgetMs / 1000}s (${last})`, {
        data: { container: name, last },
      });
    }
    // Probe often at first: a fresh container is usually healthy within a second or two, and
    // each probe is one local request.
    const pause = hc === undefined ? 250 : Date.now() - started < 3_000 ? 100 : 500;
    await sleep(pause, undefined, signal === undefined ? {} : { signal });
  }
}

/** The container's IP on one of its networks (the host reaches bridge networks), else a published port. */
function probeUrl(info: ContainerInspect, port: number, path: string): string | undefined {
  for (const ep of Object.values(info.NetworkSettings.Networks)) {
    if (ep.IPAddress !== '') return `http://${ep.IPAddress}:${port}${path}`;
  }
  const published = info.NetworkSettings.Ports[`${port}/tcp`]?.[0];
  if (published === undefined) return undefined;
  const host = published.HostIp === '' || published.HostIp === '0.0.0.0' ? '127.0.0.1' : published.HostIp;
  return `http://${host}:${published.HostPort}${path}`;
}

// node:http, not fetch: Node 20's fetch can hang forever on a connection docker-proxy resets.
function probe(url: string, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => {
      resolve(undefined);
    });
  });
}

/**
 * Runs a health check command in the container (as Docker would) and says whether it exited 0;
 * an engine error or a timeout is a failed check, and the caller tries again.
 */
async function passes(docker: DockerClient, id: string, cmd: readonly string[], timeoutMs: number): Promise<boolean> {
  try {
    return (await execInContainer({ docker, container: id }, cmd, { timeoutMs })).exitCode === 0;
  } catch {
    return false;
  }
}
