import type {
  CommandName,
  DesiredApp,
  DesiredCommand,
  DesiredNetwork,
  DesiredService,
  DesiredState,
  DesiredValue,
  DesiredVolume,
} from '../agent/core/desired.ts';
import type { EnvConfig, Policies, Schedules } from '../agent/core/config-types.gen.ts';
import { DUMP_DIR_TARGET, DUMP_DIR_VOLUME, resolveDumpDir } from '../agent/config/resolve-dump-dir.ts';

/** Environment input: a literal, or `{ secret }` for a secret value. */
export type EnvInput = Record<string, string | { secret: string }>;

export type ServiceInput = Partial<Omit<DesiredService, 'environment'>> & {
  name: string;
  image: string;
  env?: EnvInput;
};

/** A desired service with the resolver's defaults (restart unless-stopped, network default). */
export function service(input: ServiceInput): DesiredService {
  const { env = {}, ...rest } = input;
  const environment: Record<string, DesiredValue> = {};
  for (const key of Object.keys(env).sort()) {
    const v = env[key];
    if (v !== undefined)
      environment[key] = typeof v === 'string' ? { value: v, secret: false } : { value: v.secret, secret: true };
  }
  return {
    role: 'app',
    secretFiles: [],
    ports: [],
    mounts: [],
    networks: ['default'],
    dependsOn: [],
    restart: 'unless-stopped',
    labels: {},
    stopTimeoutSeconds: 10,
    ...rest,
    environment,
  };
}

export interface StateInput {
  name: string;
  revision?: string;
  /** In start order: dependencies first. */
  services: DesiredService[];
  volumes?: DesiredVolume[];
  /** Default: every network a service names, not internal. */
  networks?: DesiredNetwork[];
}

/**
 * A DesiredState as the config loader would resolve it, for tests that do not go through the
 * config repository. Site, schedules and policies are empty: the reconcile loop does not read them.
 */
export function desiredState(input: StateInput): DesiredState {
  const networkNames = [...new Set(input.services.flatMap((s) => s.networks))].sort();
  const app: DesiredApp = {
    name: input.name,
    file: `apps/${input.name}/app.yml`,
    services: input.services,
    volumes: input.volumes ?? [],
    networks: input.networks ?? networkNames.map((name) => ({ name, internal: false })),
    commands: {},
    ingress: { serverNames: [], clientCerts: { mode: 'off' } },
    cloneSettings: {},
  };
  return {
    name: input.name,
    revision: input.revision ?? '0000000000000000000000000000000000000001',
    agentVersion: '0.1.0',
    timezone: 'UTC',
    app,
    schedules: {} as unknown as Schedules,
    policies: {} as unknown as Policies,
    site: {} as unknown as EnvConfig,
    secretPaths: [],
  };
}

export interface DemoInput {
  owner: string;
  revision?: string;
  /** Image references (by digest) of postgres and the demo web app. */
  postgresImage: string;
  webImage: string;
  password: string;
  /** Host directory for the database volume. */
  dataDir: string;
  /** The data path: when given, the database mounts the backup's dump directory below it, as the resolver does. */
  dataPath?: string;
  /** Host directory mounted as /docker-entrypoint-initdb.d (SQL run once at initdb). */
  initDir?: string;
  /** Host port of the web service on 127.0.0.1; 0 = any free port. */
  webPort?: number;
  /** Extra environment of the web service. */
  webEnv?: EnvInput;
  /** Labels on both services (tests label everything for cleanup). */
  labels?: Record<string, string>;
  /** Services after web (e.g. a worker). */
  extra?: DesiredService[];
}

/**
 * The demo app (example-config-repo/apps/demo) as a DesiredState: postgres with its password
 * as a secret file, and web on an internal backend network plus a default network, reading
 * its database password from a secret file. Health: pg_isready and HTTP /healthz.
 */
export function demoDesired(input: DemoInput): DesiredState {
  const labels = input.labels ?? {};
  const postgres = service({
    name: 'postgres',
    role: 'database',
    image: input.postgresImage,
    env: { POSTGRES_DB: 'demo', POSTGRES_USER: 'demo', POSTGRES_PASSWORD_FILE: '/run/secrets/db_password' },
    secretFiles: [{ target: '/run/secrets/db_password', value: { value: input.password, secret: true }, owner: '0:0' }],
    mounts: [
      { volume: 'pgdata', target: '/var/lib/postgresql/data', readOnly: false },
      ...(input.initDir === undefined
        ? []
        : [{ volume: 'pginit', target: '/docker-entrypoint-initdb.d', readOnly: true }]),
    ],
    networks: ['backend'],
    healthcheck: {
      cmd: ['pg_isready', '-q', '-h', '127.0.0.1', '-U', 'demo', '-d', 'demo'],
      intervalSeconds: 1,
      timeoutSeconds: 3,
      retries: 30,
      startPeriodSeconds: 0,
    },
    labels,
  });
  const web = service({
    name: 'web',
    image: input.webImage,
    command: ['serve'],
    env: {
      DATABASE_URL: 'postgresql://demo@postgres:5432/demo',
      DATABASE_PASSWORD_FILE: '/run/secrets/db_password',
      PORT: '8080',
      ...input.webEnv,
    },
    secretFiles: [{ target: '/run/secrets/db_password', value: { value: input.password, secret: true }, owner: '0:0' }],
    ports: [{ container: 8080, host: input.webPort ?? 0, hostIp: '127.0.0.1', protocol: 'tcp' }],
    networks: ['default', 'backend'],
    dependsOn: ['postgres'],
    healthcheck: {
      http: { port: 8080, path: '/healthz', status: 200 },
      intervalSeconds: 1,
      timeoutSeconds: 2,
      retries: 5,
      startPeriodSeconds: 3,
    },
    labels,
  });
  const dump = input.dataPath === undefined ? undefined : resolveDumpDir(input.dataPath, postgres);
  return desiredState({
    name: input.owner,
    ...(input.revision === undefined ? {} : { revision: input.revision }),
    services: [dump?.service ?? postgres, web, ...(input.extra ?? [])],
    volumes: [
      { name: 'pgdata', kind: 'database', hostPath: input.dataDir, backup: false },
      ...(input.initDir === undefined
        ? []
        : [{ name: 'pginit', kind: 'data' as const, hostPath: input.initDir, backup: false }]),
      ...(dump === undefined ? [] : [dump.volume]),
    ],
    networks: [
      { name: 'backend', internal: true },
      { name: 'default', internal: false },
    ],
  });
}

/**
 * The demo's migration commands and database, as example-config-repo/apps/demo/app.yml has
 * them: migrate, migrate-status (10 pending, 11 newer), migration-state and, unless
 * `reverse: false`, migrate-down --to-state-from-stdin; a rollback policy (`restore`: the
 * snapshot a downgrade may restore) and, unless `snapshots: false`, the snapshot expiry policy.
 */
export function withDemoCommands(
  d: DesiredState,
  options: { reverse?: boolean; restore?: string; timeoutSeconds?: number; snapshots?: boolean } = {},
): DesiredState {
  const web = d.app.services.find((x) => x.name === 'web');
  const db = d.app.services.find((x) => x.name === 'postgres');
  if (web === undefined || db === undefined) throw new Error('not the demo');
  const cmd = (name: CommandName, command: string[]): DesiredCommand => ({
    name,
    service: 'web',
    image: web.image,
    command,
    environment: web.environment,
    timeoutSeconds: options.timeoutSeconds ?? 120,
  });
  const dumpDir = d.app.volumes.find((v) => v.name === DUMP_DIR_VOLUME)?.hostPath;
  d.app.database = {
    service: 'postgres',
    name: 'demo',
    user: 'demo',
    password: db.secretFiles[0]?.value ?? { value: '', secret: true },
    ...(dumpDir === undefined ? {} : { dumpDir: { hostPath: dumpDir, target: DUMP_DIR_TARGET } }),
  };
  d.app.commands = {
    migrate: cmd('migrate', ['migrate']),
    migration_status: { ...cmd('migration_status', ['migrate-status']), pendingExitCode: 10, newerExitCode: 11 },
    migration_state: cmd('migration_state', ['migration-state']),
    ...(options.reverse === false
      ? {}
      : { reverse_migrate: cmd('reverse_migrate', ['migrate-down', '--to-state-from-stdin']) }),
  };
  d.policies = {
    rollback: {
      on_failed_health: true,
      health_timeout_seconds: 60,
      reverse_migrations: true,
      allow_snapshot_restore: options.restore ?? null,
    },
    ...(options.snapshots === false ? {} : { snapshots: { pre_migrate_expiry_days: 7, clone_expiry_days: 3 } }),
  } as unknown as Policies;
  return d;
}
