import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerClient } from '../agent/drivers/docker/client.ts';
import type { DesiredState } from '../agent/core/desired.ts';
import { DockerDriver } from '../agent/drivers/docker/driver.ts';
import { converge, type ConvergeOptions, type ApplyResult } from '../agent/engine/loop/converge.ts';
import { ApplianceMachine } from '../agent/machine/machine.ts';
import { createLogger, type Logger } from '../agent/lib/log.ts';
import { demoDesired, type DemoInput } from './desired-builder.ts';
export { withDemoCommands } from './desired-builder.ts';
import {
  docker,
  ensureEnv,
  httpRequest,
  ownedContainers,
  publishedPort,
  removeLabelled,
  TEST_LABEL,
  waitForHttp,
  type EnvInfo,
} from './docker-env.ts';

const migrations = path.join(path.dirname(fileURLToPath(import.meta.url)), 'env', 'demo-app', 'migrations');

/** A demo stack of one test: its own owner name, state directory and data directory. */
export interface Stack {
  env: EnvInfo;
  owner: string;
  label: string;
  password: string;
  stateDir: string;
  driver: DockerDriver;
  /** The machine driver (Docker, snapshots, migrations) for a desired state. */
  machine(desired: DesiredState): ApplianceMachine;
  docker: DockerClient;
  log: Logger;
  /** Every log line written by the agent in this test. */
  logLines: string[];
  /** The demo app at `change` (web image v1 unless given). */
  desired(change?: Partial<DemoInput>): DesiredState;
  apply(desired: DesiredState, options?: Partial<ConvergeOptions>): Promise<ApplyResult>;
  /** Container id of a service (by its expected name), or undefined. */
  idOf(service: string): Promise<string | undefined>;
  /** GET / of the web service through its published port. */
  webRoot(): Promise<{ version: string; rows: number }>;
  cleanup(): Promise<void>;
}

/**
 * Sets up a stack for a test against the real engine: everything the driver creates carries
 * `appliance-test.test=<label>`. The database is initialised with the demo app's migrations
 * 001 and 002 (an initdb script), so v1 and v2 are healthy without a migrate step.
 */
export interface StackOptions {
  /** Run the demo's migrations 001 and 002 at initdb (default true); false: the agent must migrate. */
  seedSchema?: boolean;
  /** Data directory of the database (default: a temporary directory); its parent is the data path. */
  dataDir?: string;
}

export async function makeStack(label: string, options: StackOptions = {}): Promise<Stack> {
  const env = await ensureEnv();
  await removeLabelled(env, label);
  const owner = `${label}-${randomBytes(2).toString('hex')}`;
  const base = await mkdtemp(path.join(tmpdir(), `${label}-`));
  const stateDir = path.join(base, 'state');
  const dataDir = options.dataDir ?? path.join(base, 'data', 'postgresql');
  const initDir = path.join(base, 'init');
  await mkdir(initDir, { recursive: true });
  const sql = [
    'CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());',
    await readFile(path.join(migrations, '001_items.up.sql'), 'utf8'),
    await readFile(path.join(migrations, '002_note.up.sql'), 'utf8'),
    "INSERT INTO schema_migrations (name) VALUES ('001_items'), ('002_note');",
  ].join('\n');
  await writeFile(path.join(initDir, '10-demo.sql'), sql, { mode: 0o644 });
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const dockerClient = new DockerClient({ socketPath: env.socketPath });
  const driver = new DockerDriver({
    docker: dockerClient,
    stateDir,
    registries: [{ serveraddress: env.registry.url, username: env.registry.username, password: env.registry.password }],
    labels: { [TEST_LABEL]: label },
  });
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => logLines.push(s) } });
  const machine = (d: DesiredState): ApplianceMachine =>
    new ApplianceMachine({ docker: driver, desired: d, stateDir, log });
  const desired = (change: Partial<DemoInput> = {}): DesiredState =>
    demoDesired({
      owner,
      postgresImage: env.images['postgres:15'] ?? '',
      webImage: env.images['demo:v1'] ?? '',
      password,
      dataDir,
      ...(options.seedSchema === false ? {} : { initDir }),
      ...change,
    });
  const idOf = async (service: string): Promise<string | undefined> => {
    const out = await docker(env, ['inspect', '--format', '{{.Id}}', `${owner}-${service}`], { okCodes: [0, 1] });
    return out.exitCode === 0 ? out.stdout.trim() : undefined;
  };
  return {
    env,
    owner,
    label,
    password,
    stateDir,
    driver,
    docker: dockerClient,
    log,
    logLines,
    desired,
    machine,
    apply: (d, extra = {}) => converge({ desired: d, driver: machine(d), driverFor: machine, stateDir, log, ...extra }),
    idOf,
    webRoot: async () => {
      const port = await publishedPort(env, `${owner}-web`, 8080);
      await waitForHttp(`http://127.0.0.1:${port}/`);
      const res = await httpRequest(`http://127.0.0.1:${port}/`);
      return JSON.parse(res.body.toString('utf8')) as { version: string; rows: number };
    },
    cleanup: async () => {
      await removeLabelled(env, label);
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** Ids of the owner's one-off containers (migrations, commands), which no step may leave behind. */
export async function oneOffsOf(env: EnvInfo, owner: string): Promise<string[]> {
  const filters = ['--filter', `label=appliance.owner=${owner}`, '--filter', 'label=appliance.one-off'];
  const out = await docker(env, ['ps', '-aq', ...filters]);
  return out.stdout.split('\n').filter((l) => l !== '');
}

/** Names and states of the owner's containers, e.g. `demo-web running`. */
export async function containersOf(env: EnvInfo, owner: string): Promise<string[]> {
  return (await ownedContainers(env, owner, '{{.Names}} {{.State}}')).sort();
}
