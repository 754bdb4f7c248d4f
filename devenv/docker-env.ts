import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentError } from '../agent/core/errors.ts';
import { run, type ExecOptions, type ExecResult } from '../agent/lib/exec.ts';

/** One image of the test environment as pushed to its registry (see devenv/env/README.md). */
export interface EnvImage {
  /** Local tag, e.g. `appliance-test/demo:v1`. */
  local: string;
  /** Registry tag, e.g. `127.0.0.1:5000/demo:v1`. */
  tag: string;
  /** Registry reference pinned by digest, e.g. `127.0.0.1:5000/demo@sha256:…`. */
  ref: string;
  digest: string;
  /** Local image id; the registry's image is this one. */
  id: string;
  /** Content hash of the image's build inputs. */
  hash: string;
}

/** What tests need to use the Docker engine, the images and the registry that up.sh provides. */
export interface EnvInfo {
  stateDir: string;
  /** `unix:///var/run/docker.sock` */
  dockerHost: string;
  socketPath: string;
  /** Debian's docker client, matching the engine's version. */
  dockerBin: string;
  /** A DOCKER_CONFIG directory logged in to the registry. */
  dockerConfig: string;
  registry: { url: string; username: string; password: string };
  /** Image name (`debian:bookworm`, `postgres:15`, `demo:v1` … `demo:v4`) → registry reference pinned by digest. */
  images: Record<string, string>;
  imageDetails: Record<string, EnvImage>;
}

/** Label key for everything tests start; clean up with {@link removeLabelled}. */
export const TEST_LABEL = 'appliance-test.test';

const upScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'env', 'up.sh');
const upTimeoutMs = 20 * 60_000;

/** The state directory of the test environment (`$APPLIANCE_TEST_ENV_DIR` or the default). */
export function envStateDir(): string {
  return process.env['APPLIANCE_TEST_ENV_DIR'] ?? '/var/lib/appliance-test-env';
}

let pending: Promise<EnvInfo> | undefined;

/**
 * Brings the test environment up (devenv/env/up.sh, once per process; it is quick when all is
 * up already) and returns how to reach it.
 */
export function ensureEnv(progress?: (line: string) => void): Promise<EnvInfo> {
  pending ??= runUp(progress)
    .then(() => readEnv())
    .catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
  return pending;
}

/** Reads the state files of an environment that is already up, without running up.sh. */
export async function readEnv(stateDir: string = envStateDir()): Promise<EnvInfo> {
  const env = JSON.parse(await readFile(path.join(stateDir, 'env.json'), 'utf8')) as Omit<
    EnvInfo,
    'registry' | 'images' | 'imageDetails'
  > & { registry: { url: string; credentialsFile: string }; imagesFile: string };
  const credentials = JSON.parse(await readFile(env.registry.credentialsFile, 'utf8')) as {
    username: string;
    password: string;
  };
  const imageDetails = JSON.parse(await readFile(env.imagesFile, 'utf8')) as Record<string, EnvImage>;
  const images = Object.fromEntries(Object.entries(imageDetails).map(([name, image]) => [name, image.ref]));
  return {
    stateDir: env.stateDir,
    dockerHost: env.dockerHost,
    socketPath: env.socketPath,
    dockerBin: env.dockerBin,
    dockerConfig: env.dockerConfig,
    registry: { url: env.registry.url, username: credentials.username, password: credentials.password },
    images,
    imageDetails,
  };
}

function runUp(progress?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [upScript], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let told = 0;
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (progress === undefined) return;
      // Whole lines only, each once: up.sh's own "[env hh:mm:ss] …" steps.
      const end = output.lastIndexOf('\n');
      if (end < told) return;
      for (const line of output.slice(told, end).split('\n')) if (line.startsWith('[env ')) progress(line);
      told = end + 1;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGTERM'), upTimeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        const summary = output.split('\n').filter((line) => line.startsWith('  - '));
        if (!summary.some((line) => line.includes('everything was already up'))) {
          console.error(`test env up:\n${summary.join('\n')}`);
        }
        resolve();
        return;
      }
      reject(
        new AgentError('ExecFailed', `devenv/env/up.sh failed (${signal ?? String(code)}):\n${output.slice(-4000)}`, {
          data: { exitCode: code, signal },
        }),
      );
    });
  });
}

/** Options of {@link docker}: those of `run`, and `anonymous` to use no registry login. */
export interface DockerOptions extends ExecOptions {
  anonymous?: boolean;
}

/** Runs the docker client against the environment's engine (argv only; secrets via `input`). */
export function docker(env: EnvInfo, args: readonly string[], options: DockerOptions = {}): Promise<ExecResult> {
  const { anonymous = false, ...rest } = options;
  const dockerConfig = anonymous ? path.join(env.stateDir, 'docker-config-anonymous') : env.dockerConfig;
  return run(env.dockerBin, args, {
    ...rest,
    env: { ...rest.env, DOCKER_HOST: env.dockerHost, DOCKER_CONFIG: dockerConfig },
  });
}

/** One line per container of appliance `owner` (running or not), in docker's `--format`. */
export async function ownedContainers(env: EnvInfo, owner: string, format: string): Promise<string[]> {
  const out = await docker(env, ['ps', '-a', '--filter', `label=appliance.owner=${owner}`, '--format', format]);
  return out.stdout.split('\n').filter((l) => l !== '');
}

/** Removes the containers, networks and volumes labelled `appliance-test.test=<value>`. */
export async function removeLabelled(env: EnvInfo, value: string): Promise<void> {
  const filter = `label=${TEST_LABEL}=${value}`;
  const list = async (args: string[]): Promise<string[]> =>
    (await docker(env, [...args, '--filter', filter])).stdout.split('\n').filter((id) => id !== '');
  const containers = await list(['ps', '-aq']);
  if (containers.length > 0) await docker(env, ['rm', '-f', '-v', ...containers]);
  const networks = await list(['network', 'ls', '-q']);
  if (networks.length > 0) await docker(env, ['network', 'rm', ...networks]);
  const volumes = await list(['volume', 'ls', '-q']);
  if (volumes.length > 0) await docker(env, ['volume', 'rm', '-f', ...volumes]);
}

/** Waits until a container's Docker health check reports healthy; fails fast when it stops. */
export async function waitHealthy(env: EnvInfo, container: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let state = '';
  while (Date.now() < deadline) {
    state = (
      await docker(env, ['inspect', '--format', '{{.State.Status}} {{.State.Health.Status}}', container])
    ).stdout.trim();
    if (state === 'running healthy') return;
    if (!state.startsWith('running') && !state.startsWith('created')) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const logs = await docker(env, ['logs', '--tail', '30', container], { okCodes: [0, 1] });
  throw new AgentError('ContainerNotHealthy', `${container} is not healthy (${state}):\n${logs.stdout}${logs.stderr}`, {
    data: { container, state },
  });
}

/** The host port that a container's `port/tcp` is published on at 127.0.0.1. */
export async function publishedPort(env: EnvInfo, container: string, port: number): Promise<number> {
  const out = (await docker(env, ['port', container, `${port}/tcp`])).stdout;
  const match = /^127\.0\.0\.1:(\d+)$/m.exec(out);
  if (match?.[1] === undefined) {
    throw new AgentError('PortNotPublished', `${container} has ${port}/tcp not published on 127.0.0.1: ${out.trim()}`);
  }
  return Number(match[1]);
}

/** A PostgreSQL container of the test environment, see {@link startPostgres}. */
export interface PostgresFixture {
  container: string;
  /** A user-defined network the container is on (reachable there as `container`). */
  network: string;
  /** Host port of 5432/tcp, published on 127.0.0.1. */
  port: number;
  user: string;
  database: string;
  /** Host directory (0700) with `password` (the password alone) and `pgpass` (libpq format), both 0600. */
  secretsDir: string;
  /** Removes the container, the network and the secrets directory. */
  remove(): Promise<void>;
}

/**
 * Starts appliance-test/postgres:15 with a generated password (given as POSTGRES_PASSWORD_FILE),
 * labelled `appliance-test.test=<label>`, on its own network and 127.0.0.1 (more bind mounts,
 * `host:container`, in `mounts`), and waits until healthy.
 */
export async function startPostgres(
  env: EnvInfo,
  label: string,
  name = `${label}-pg`,
  options: { mounts?: readonly string[] } = {},
): Promise<PostgresFixture> {
  const user = 'app';
  const database = 'app';
  const secretsDir = await mkdtemp(path.join(tmpdir(), `${name}-`));
  const password = randomBytes(18).toString('base64url');
  await writeFile(path.join(secretsDir, 'password'), password, { mode: 0o600 });
  await writeFile(path.join(secretsDir, 'pgpass'), `*:*:*:${user}:${password}\n`, { mode: 0o600 });
  const network = `${name}-net`;
  const labelArgs = ['--label', `${TEST_LABEL}=${label}`];
  await docker(env, ['network', 'create', ...labelArgs, network]);
  const runArgs = [
    ['run', '-d', '--name', name, ...labelArgs],
    ['--network', network, '-p', '127.0.0.1::5432', '-v', `${secretsDir}:/run/secrets:ro`],
    (options.mounts ?? []).flatMap((m) => ['-v', m]),
    ['-e', 'POSTGRES_PASSWORD_FILE=/run/secrets/password', '-e', `POSTGRES_USER=${user}`],
    ['-e', `POSTGRES_DB=${database}`, 'appliance-test/postgres:15'],
  ];
  await docker(env, runArgs.flat());
  const remove = async (): Promise<void> => {
    await docker(env, ['rm', '-f', '-v', name], { okCodes: [0, 1] });
    await docker(env, ['network', 'rm', network], { okCodes: [0, 1] });
    await rm(secretsDir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(env, name);
    const port = await publishedPort(env, name, 5432);
    return { container: name, network, port, user, database, secretsDir, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** What a test file works on: the environment, its PostgreSQL containers and a temp root. */
export interface PostgresSuite {
  env: EnvInfo;
  /** The first (often only) database. */
  pg: PostgresFixture;
  pgs: PostgresFixture[];
  root: string;
  /** Removes the containers, everything labelled `label` and the temp root. */
  close: () => Promise<void>;
}

/**
 * Brings the environment up, removes what an earlier run labelled `label` left, and starts one
 * PostgreSQL per name (default `<label>-pg`) beside a fresh temp root.
 */
export async function openPostgresSuite(label: string, names: string[] = [`${label}-pg`]): Promise<PostgresSuite> {
  const env = await ensureEnv();
  await removeLabelled(env, label);
  const pgs = await Promise.all(names.map((name) => startPostgres(env, label, name)));
  const root = await mkdtemp(path.join(tmpdir(), `${label}-`));
  const pg = pgs[0];
  if (pg === undefined) throw new Error('openPostgresSuite: no database named');
  const close = async (): Promise<void> => {
    await removeLabelled(env, label);
    for (const p of pgs) await p.remove();
    await rm(root, { recursive: true, force: true });
  };
  return { env, pg, pgs, root, close };
}

/** The answer of {@link httpRequest}. */
export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * An HTTP request with node:http. Not `fetch`: Node 20's fetch can stay pending forever, without
 * keeping the process alive, when docker-proxy accepts a connection to a published port and
 * resets it because the container does not listen yet; the test then ends as "cancelled".
 */
export function httpRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    body?: string;
    /** HTTPS: roots to verify against (default: not verified); name for SNI; a client certificate. */
    tls?: { ca?: string | Buffer; servername?: string; cert?: Buffer; key?: Buffer };
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const secure = url.startsWith('https:');
    const t = options.tls ?? {};
    const tls: https.RequestOptions = secure
      ? {
          ...(t.ca === undefined ? { rejectUnauthorized: false } : { ca: t.ca }),
          ...(t.servername === undefined ? {} : { servername: t.servername }),
          ...(t.cert === undefined ? {} : { cert: t.cert }),
          ...(t.key === undefined ? {} : { key: t.key }),
          agent: false,
        }
      : {};
    const request = secure ? https.request : http.request;
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Polls `url` until it answers with any HTTP status (a server in a new container is up). */
export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<HttpAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await httpRequest(url, { timeoutMs: 2_000 });
    } catch (err) {
      if (Date.now() > deadline) throw new AgentError('HttpNotAnswering', `${url} did not answer`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
