import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { DesiredService, DesiredState, DesiredValue } from '../../core/desired.ts';
import { secretValues } from '../../core/desired.ts';
import { AgentError } from '../../core/errors.ts';
import { LABELS } from '../../core/names.ts';
import { serviceSpec } from '../../core/normalize.ts';
import type { Container, DockerClient } from './client.ts';
import { dockerError, ignoreMissing } from './errors.ts';
import { removeSecretDir, writeSecretFiles } from './secret-files.ts';
import { readOutputTail } from './streams.ts';

/** Label on one-off containers: the command they run. Observe leaves them out of the app's containers. */
export const ONE_OFF_LABEL = 'appliance.one-off';

/** A command to run once in a container of a service's image and spec. */
export interface OneOffRequest {
  desired: DesiredState;
  /** The service whose environment, secret files, mounts, networks and user the container gets. */
  service: DesiredService;
  /** What the container is for (`migrate`, `migration_status`, …): its label and part of its name. */
  purpose: string;
  image: string;
  command: string[];
  environment: Record<string, DesiredValue>;
  specKey: string;
  timeoutSeconds: number;
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  signal?: AbortSignal;
}

/** How a one-off command ended. Output is bounded and has every secret value replaced by `***`. */
export interface OneOffResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** True when output was cut to the bound. */
  truncated: boolean;
  durationMs: number;
}

/** Bytes of stdout and of stderr kept (the end of each). */
export const ONE_OFF_OUTPUT_BYTES = 64 * 1024;

/** What the runner needs from the Docker driver. */
export interface OneOffDeps {
  docker: DockerClient;
  stateDir: string;
  extraLabels: Record<string, string>;
}

/**
 * Runs a command once in a new container and removes the container, whatever happens. The
 * container is labelled as the owner's and as a one-off, so observe ignores it and a crashed
 * run's container is swept away (`removeOneOffs`). Secrets reach it as environment and 0600
 * files like the service's own; they are never in the result or in errors. A command that
 * outlives its timeout is killed and fails with `CommandTimedOut`.
 */
export async function runOneOff(d: OneOffDeps, req: OneOffRequest): Promise<OneOffResult> {
  const owner = req.desired.name;
  const spec = serviceSpec(req.desired, req.service, req.specKey);
  const id = randomBytes(4).toString('hex');
  const name = `${owner}-run-${req.purpose.replace(/[^a-zA-Z0-9_.-]/g, '-')}-${id}`;
  const secretDir = path.join(d.stateDir, 'secrets', owner, `one-off-${id}`);
  const started = Date.now();
  let container: Container | undefined;
  try {
    const secrets = await writeSecretFiles(secretDir, req.service.secretFiles);
    const first = spec.networks[0];
    container = await d.docker.createContainer({
      name,
      Image: req.image,
      Cmd: req.command,
      ...(spec.entrypoint === undefined ? {} : { Entrypoint: spec.entrypoint }),
      Env: Object.entries(req.environment).map(([k, v]) => `${k}=${v.value}`),
      ...(spec.user === undefined ? {} : { User: spec.user }),
      ...(spec.workingDir === undefined ? {} : { WorkingDir: spec.workingDir }),
      ...(req.input === undefined ? {} : { OpenStdin: true, StdinOnce: true, AttachStdin: true }),
      Labels: {
        ...d.extraLabels,
        [LABELS.owner]: owner,
        [LABELS.revision]: req.desired.revision,
        [LABELS.service]: req.service.name,
        [ONE_OFF_LABEL]: req.purpose,
      },
      HostConfig: {
        RestartPolicy: { Name: 'no' },
        Mounts: [
          ...spec.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
          ...secrets.map((s) => ({ Type: 'bind' as const, Source: s.source, Target: s.target, ReadOnly: true })),
        ],
        NetworkMode: first ?? 'none',
      },
      ...(first === undefined
        ? {}
        : { NetworkingConfig: { EndpointsConfig: { [first]: { Aliases: [`${req.service.name}-${req.purpose}`] } } } }),
    });
    for (const net of spec.networks.slice(1)) await d.docker.getNetwork(net).connect({ Container: container.id });
    const input = req.input;
    // Attach resolves to the raw connection: ending it closes the command's stdin.
    const stdin =
      input === undefined ? undefined : await container.attach({ stdin: true, stdout: false, stderr: false });
    await container.start();
    if (stdin !== undefined && input !== undefined) stdin.end(input);
    const exitCode = await waitExit(container, req.timeoutSeconds, req.signal);
    const logs = await container.logs({ stdout: true, stderr: true });
    const { stdout, stderr, truncated } = await readOutputTail(logs, ONE_OFF_OUTPUT_BYTES);
    const scrub = scrubber(req.desired);
    return { exitCode, stdout: scrub(stdout), stderr: scrub(stderr), truncated, durationMs: Date.now() - started };
  } catch (err) {
    throw dockerError(err, 'CommandFailed', `run ${req.purpose} in a one-off container of ${req.image}`, {
      purpose: req.purpose,
      image: req.image,
    });
  } finally {
    const made = container;
    if (made !== undefined) await ignoreMissing(() => made.remove({ force: true })).catch(() => undefined);
    await removeSecretDir(secretDir);
  }
}

/**
 * Removes the owner's one-off containers a crashed run left (all of them, or only those that
 * have exited: a running one may belong to a concurrent `appliance plan`).
 */
export async function removeOneOffs(
  docker: DockerClient,
  owner: string,
  opts: { onlyExited?: boolean } = {},
): Promise<void> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.owner}=${owner}`, ONE_OFF_LABEL] },
  });
  for (const c of list) {
    if (opts.onlyExited === true && (c.State === 'running' || c.State === 'created')) continue;
    await ignoreMissing(() => docker.getContainer(c.Id).remove({ force: true }));
  }
}

async function waitExit(container: Container, timeoutSeconds: number, signal?: AbortSignal): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new AgentError('CommandTimedOut', `the command did not finish in ${timeoutSeconds} s`));
    }, timeoutSeconds * 1000);
    onAbort = () => {
      reject(new AgentError('ApplyAborted', 'the command was aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const res = await Promise.race([container.wait(), stop]);
    return res.StatusCode;
  } catch (err) {
    await container.kill().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
}

function scrubber(desired: DesiredState): (text: string) => string {
  const secrets = secretValues(desired)
    .filter((s) => s.length >= 4)
    .sort((a, b) => b.length - a.length);
  return (text) => secrets.reduce((t, s) => t.split(s).join('***'), text);
}
