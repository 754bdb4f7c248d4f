import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import type { AgentStatus } from '../agent/core/status.ts';
import { editEnv, registryLogin } from './edit-env.ts';
import type { EnvInfo } from './docker-env.ts';
import { docker, httpRequest } from './docker-env.ts';
import { startGitServer, type GitServer } from './git-server.ts';
import { createBareRepo, git, keepTestDirs } from './git-repo.ts';

const projectRoot = join(import.meta.dirname, '..');
const exampleRepo = join(projectRoot, 'example-config-repo');
const keys = join(projectRoot, 'test', 'fixtures', 'keys');

/**
 * node arguments that run the CLI from the TypeScript sources (through tsx), so that tests
 * exercise the code as it is, not a dist/ build that may be older.
 */
export const CLI_FROM_SOURCE: readonly string[] = ['--import', 'tsx', join(projectRoot, 'agent', 'main.ts')];

export interface FleetOptions {
  /** Everything lives here (emptied first): work/, srv/fleet.git, keys/, state/, data/, restic/. */
  root: string;
  env: EnvInfo;
  /** Appliance name; the example's `demo` appliance is copied under it. */
  name?: string;
  /** HTTPS port of the appliance's ingress on 127.0.0.1, the only way to the app (default: a free one). */
  webPort?: number;
  /** Its HTTP port (default: a free one). */
  httpPort?: number;
  /** Port of the agent's HTTP API (default: a free one). */
  agentPort?: number;
  pollSeconds?: number;
  /** The appliance's data path (storage.paths.data); default root/data. A btrfs mount shows real snapshots. */
  dataPath?: string;
  /** Let the agent push (its status ref) to the config repo over HTTP. */
  allowPush?: boolean;
}

/** A config repo made from example-config-repo, served by git http-backend, plus an agent's bootstrap. */
export interface Fleet {
  name: string;
  root: string;
  /** The operator's clone; `commit` pushes from it. */
  work: string;
  server: GitServer;
  repoUrl: string;
  bootstrapFile: string;
  stateDir: string;
  webhookSecret: string;
  agentUrl: string;
  /** https://localhost:<webPort>: the app through the ingress. */
  webUrl: string;
  /** The root of the ingress's own CA (the fleet has no ACME): `curl --cacert` verifies the app with it. */
  caFile: string;
  /** Edits files in the work clone, commits and pushes; returns the new commit. */
  commit(message: string, edit: (f: FleetFiles) => Promise<void>): Promise<string>;
  /** Stops the git server and removes the root (kept with APPLIANCE_KEEP_TEST_DIRS=1). */
  close(): Promise<void>;
}

/** Editors for the appliance's files in the work clone. */
export interface FleetFiles {
  appliance(edit: (doc: Document) => void): Promise<void>;
  app(edit: (doc: Document) => void): Promise<void>;
  env(edit: (doc: Document) => void): Promise<void>;
  write(rel: string, text: string): Promise<void>;
}

export async function createFleet(options: FleetOptions): Promise<Fleet> {
  const { root, env } = options;
  const name = options.name ?? 'demo';
  await rm(root, { recursive: true, force: true });
  const work = join(root, 'work');
  await mkdir(join(root, 'keys'), { recursive: true, mode: 0o700 });
  await cp(exampleRepo, work, { recursive: true });
  if (name !== 'demo') {
    await cp(join(work, 'appliances', 'demo'), join(work, 'appliances', name), { recursive: true });
    await rm(join(work, 'appliances', 'demo'), { recursive: true });
  }
  const identityFile = join(root, 'keys', 'appliance.agekey');
  await cp(join(keys, 'demo.agekey'), identityFile);
  const operatorKey = join(root, 'keys', 'operator.agekey');
  await cp(join(keys, 'operator.agekey'), operatorKey);
  await chmod600(identityFile, operatorKey);
  const webPort = options.webPort ?? (await freePort());
  const httpPort = options.httpPort ?? (await freePort());
  const dataPath = options.dataPath ?? join(root, 'data');
  const files = fleetFiles(work, name, operatorKey);
  await files.env((doc) => {
    registryLogin(env.registry.url, env.registry.username, env.registry.password)(doc);
    doc.setIn(['storage', 'paths', 'data'], dataPath);
    // Each fleet backs up into its own repository, never the example's /var/backups path.
    doc.setIn(['backup', 'repository'], join(root, 'restic'));
    // The ingress on loopback ports of its own, answering for localhost; no ACME (no public
    // name here), so its own CA signs the certificate.
    doc.setIn(['ingress'], { http_port: httpPort, https_port: webPort, host_ip: '127.0.0.1' });
    doc.setIn(['allowed_hosts'], ['localhost']);
    doc.setIn(['tls', 'acme', 'enabled'], false);
  });

  await git(work, ['init', '-q', '-b', 'main']);
  await git(work, ['add', '-A']);
  await git(work, ['commit', '-q', '-m', 'fleet from example-config-repo']);
  const srv = join(root, 'srv');
  const bare = await createBareRepo(srv, 'fleet.git');
  await git(work, ['remote', 'add', 'origin', bare]);
  // With its upstream set, a plain `git push` in the work clone works, as the demo tells users.
  await git(work, ['push', '-q', '-u', 'origin', 'main']);
  const server = await startGitServer({ root: srv, ...(options.allowPush === true ? { allowPush: true } : {}) });

  const webhookSecret = randomBytes(24).toString('hex');
  const secretFile = join(root, 'keys', 'webhook-secret');
  await writeFile(secretFile, `${webhookSecret}\n`, { mode: 0o600 });
  const agentPort = options.agentPort ?? (await freePort());
  const stateDir = join(root, 'state');
  const bootstrapFile = join(root, 'bootstrap.yml');
  const repoUrl = server.url('fleet.git');
  await writeFile(
    bootstrapFile,
    [
      `name: ${name}`,
      `repo: { url: '${repoUrl}', branch: main }`,
      `age_identity_file: ${identityFile}`,
      `poll_interval_seconds: ${options.pollSeconds ?? 5}`,
      `state_dir: ${stateDir}`,
      `listen: 127.0.0.1:${agentPort}`,
      `webhook: { secret_file: ${secretFile} }`,
      // The fleet's commits are unsigned (signatures are tested in test/source/).
      'trust: { allow_unsigned: true }',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return {
    name,
    root,
    work,
    server,
    repoUrl,
    bootstrapFile,
    stateDir,
    webhookSecret,
    agentUrl: `http://127.0.0.1:${agentPort}`,
    webUrl: `https://localhost:${webPort}`,
    caFile: join(dataPath, 'ingress', 'storage', 'pki', 'authorities', 'local', 'root.crt'),
    async commit(message, edit) {
      await edit(files);
      await git(work, ['add', '-A']);
      await git(work, ['commit', '-q', '-m', message]);
      await git(work, ['push', '-q', 'origin', 'main']);
      return git(work, ['rev-parse', 'HEAD']);
    },
    async close() {
      await server.stop();
      // The repo, the state and the app's data when it lives under the root (~100 MB a fleet).
      await removeTestDir(root);
    },
  };
}

function fleetFiles(work: string, name: string, operatorKey: string): FleetFiles {
  const yamlFile = async (rel: string, edit: (doc: Document) => void): Promise<void> => {
    const path = join(work, rel);
    const doc = parseDocument(await readFile(path, 'utf8'));
    edit(doc);
    await writeFile(path, doc.toString());
  };
  return {
    appliance: (edit) => yamlFile(join('appliances', name, 'appliance.yml'), edit),
    app: (edit) => yamlFile(join('apps', 'demo', 'app.yml'), edit),
    env: (edit) => editEnv(join(work, 'appliances', name, 'env.yml'), operatorKey, edit),
    write: (rel, text) => writeFile(join(work, rel), text),
  };
}

/** A running `appliance agent` process. */
export interface AgentProcess {
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts `appliance agent --config <bootstrap>` as a child process, logging to root/agent.log.
 * It runs from the sources; `entry` runs another build of the CLI, e.g. the compiled `dist/agent/main.js`.
 */
export async function startAgent(
  fleet: Fleet,
  env: EnvInfo,
  options: { entry?: string; nodeArgs?: readonly string[]; env?: Record<string, string> } = {},
): Promise<AgentProcess> {
  const logFile = join(fleet.root, 'agent.log');
  const log = await open(logFile, 'a');
  const entry = options.entry === undefined ? CLI_FROM_SOURCE : [options.entry];
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), ...entry, 'agent', '--config', fleet.bootstrapFile],
    {
      env: { ...process.env, ...options.env, DOCKER_HOST: env.dockerHost },
      stdio: ['ignore', log.fd, log.fd],
    },
  );
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  await log.close();
  return {
    child,
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Removes a test's directory once it is done, unless {@link keepTestDirs}. */
export async function removeTestDir(dir: string): Promise<void> {
  if (!keepTestDirs()) await rm(dir, { recursive: true, force: true });
}

/** GET /status of the fleet's agent, or undefined while it does not answer. */
export async function agentStatus(fleet: Fleet): Promise<AgentStatus | undefined> {
  try {
    const res = await httpRequest(`${fleet.agentUrl}/status`, { timeoutMs: 5000 });
    return res.status === 200 ? (JSON.parse(res.body.toString()) as AgentStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `check` until it returns a value (not undefined/false) or the time is up. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => {
        resolve(port);
      });
    });
  });
}

async function chmod600(...files: string[]): Promise<void> {
  for (const f of files) await chmod(f, 0o600);
}

/** Removes the containers and networks an agent made for appliance `owner` (a test's or demo's leftovers). */
export async function removeOwned(env: EnvInfo, owner: string): Promise<void> {
  const filter = `label=appliance.owner=${owner}`;
  const list = async (args: string[]): Promise<string[]> =>
    (await docker(env, [...args, '--filter', filter])).stdout.split('\n').filter((id) => id !== '');
  const containers = await list(['ps', '-aq']);
  if (containers.length > 0) await docker(env, ['rm', '-f', ...containers]);
  const networks = await list(['network', 'ls', '-q']);
  if (networks.length > 0) await docker(env, ['network', 'rm', ...networks]);
}
