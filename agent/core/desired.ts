import type { EnvConfig, Policies, Schedules } from './config-types.gen.ts';
import type { JsonObject, JsonValue } from './json.ts';

/**
 * Everything the repository asks of one appliance at one revision, resolved and checked: the
 * app with references to env.yml filled in, policies and schedules with defaults, and the
 * decrypted site settings. Secret values are kept (drivers need them) but marked, so that
 * `maskDesired` can show the state without them.
 *
 * `site`, `schedules` and `policies` are the file types (snake_case, defaults filled in); the
 * app model is the agent's own (camelCase).
 */
export interface DesiredState {
  /** Appliance name: its files are appliances/<name>/. */
  name: string;
  /** Revision of the config repository this state was loaded from. */
  revision: string;
  /** appliance.yml agent.version: not supported yet (warned about, ignored). */
  agentVersion?: string;
  /** IANA zone in which schedules and the update window are read. */
  timezone: string;
  app: DesiredApp;
  schedules: Schedules;
  policies: Policies;
  /** The decrypted env.yml with defaults; `allowed_hosts` is always set. */
  site: EnvConfig;
  /** JSON pointers into `site` of secret values (masked in every output). */
  secretPaths: readonly string[];
  /** appliance.yml `clones` (absent: none). */
  clones?: DesiredClone[];
  /** appliance.yml preflight: the review ref patterns this appliance pre-flights (absent: none). */
  preflight?: { refs: readonly string[] };
}

/** One appliance.yml clone entry, resolved. */
export interface DesiredClone {
  name: string;
  /** expires_after, else policies.snapshots.clone_expiry_days (default 3 days). */
  expiresAfterMs: number;
  /** The app's clone.settings with the entry's settings on top. */
  settings: Record<string, string>;
}

/** A resolved value: literal, or taken from env.yml; `secret` when any part came from a secret. */
export interface DesiredValue {
  value: string;
  secret: boolean;
}

export type ServiceRole = 'app' | 'support' | 'database';

/** The names of the app's commands. */
export type CommandName =
  | 'migrate'
  | 'migration_status'
  | 'migration_state'
  | 'reverse_migrate'
  | 'health'
  | 'smoke_test'
  | 'first_user'
  | 'session_cleanup';

export interface DesiredApp {
  name: string;
  /** Repository path of the app definition. */
  file: string;
  /** Services in start order: every service comes after the ones it depends on. */
  services: DesiredService[];
  volumes: DesiredVolume[];
  networks: DesiredNetwork[];
  database?: DesiredDatabase;
  commands: Partial<Record<CommandName, DesiredCommand>>;
  ingress: DesiredIngress;
  /** App settings replaced in clones (non-secret literals). */
  cloneSettings: Record<string, string>;
}

export interface DesiredService {
  name: string;
  role: ServiceRole;
  /** Image reference, from appliance.yml images or the app definition. */
  image: string;
  command?: string[];
  entrypoint?: string[];
  user?: string;
  workingDir?: string;
  /** Final environment, keys sorted. */
  environment: Record<string, DesiredValue>;
  secretFiles: DesiredSecretFile[];
  ports: DesiredPort[];
  mounts: DesiredMount[];
  networks: string[];
  dependsOn: string[];
  healthcheck?: DesiredHealthcheck;
  restart: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  labels: Record<string, string>;
  memoryLimit?: string;
  stopTimeoutSeconds: number;
}

export interface DesiredSecretFile {
  /** Path in the container. */
  target: string;
  value: DesiredValue;
  /** uid:gid of the file; mode is always 0600. */
  owner: string;
}

export interface DesiredPort {
  container: number;
  host: number;
  hostIp: string;
  protocol: 'tcp' | 'udp';
}

export interface DesiredMount {
  volume: string;
  target: string;
  readOnly: boolean;
}

export interface DesiredHealthcheck {
  http?: { port: number; path: string; status: number };
  cmd?: string[];
  intervalSeconds: number;
  timeoutSeconds: number;
  retries: number;
  startPeriodSeconds: number;
}

export interface DesiredVolume {
  name: string;
  kind: 'data' | 'database' | 'volatile' | 'named';
  /** Host directory for data, database and volatile volumes; absent for named volumes. */
  hostPath?: string;
  /** Included in the file backup. */
  backup: boolean;
  /** uid:gid the directory is created with. */
  owner?: string;
}

export interface DesiredNetwork {
  name: string;
  internal: boolean;
}

export interface DesiredDatabase {
  service: string;
  name: string;
  user: string;
  password: DesiredValue;
  /** Where pg_dump writes a backup's dump: a host directory bind-mounted into the database container. */
  dumpDir?: DesiredDumpDir;
}

/** A host directory (`hostPath`) the database container sees at `target`. */
export interface DesiredDumpDir {
  hostPath: string;
  target: string;
}

export interface DesiredCommand {
  name: CommandName;
  service: string;
  /** Image of `service` at this revision. */
  image: string;
  command: string[];
  /** The service's environment with the command's own entries on top, keys sorted. */
  environment: Record<string, DesiredValue>;
  timeoutSeconds: number;
  /** migration_status only: the exit code that means "pending". */
  pendingExitCode?: number;
  /** migration_status only: the exit code that means "the database was migrated by a newer version". */
  newerExitCode?: number;
}

export interface DesiredIngress {
  /** appliance.yml service_mode when enabled: every name shows the service page with `message`. */
  service?: { reason: 'manual'; message: string };
  /** Host names the proxy answers for (env.yml allowed_hosts, default [domain]). */
  serverNames: string[];
  http?: {
    routes: { path: string; service: string; port: number; clientCerts: 'off' | 'optional' | 'require' }[];
    maxBodySize: string;
    readTimeoutSeconds: number;
  };
  smtp?: { service: string; port: number };
  /** The agent's Caddy (appliance.yml `images.ingress`); absent: no ingress runs. */
  proxy?: DesiredProxy;
  clientCerts: {
    mode: 'off' | 'optional' | 'mandatory';
    /** CA certificate given in env.yml. */
    ca?: string;
    /** Host paths of the app's own CA and CRL (ingress.client_ca). */
    caFile?: string;
    crlFile?: string;
  };
}

/** How the ingress container is run and what its configuration is made from (env.yml `ingress`, `tls`). */
export interface DesiredProxy {
  /** Its service in `app.services` (role support). */
  service: string;
  /** Host directory of the admin socket and the configuration file (bind-mounted to /run/caddy). */
  adminDir: string;
  /** Host directory of Caddy's storage (ACME account, certificates), read for /status. */
  storageDir: string;
  /** Host ports; the container listens on the same numbers, so redirects name the public port. */
  ports: { http: number; https: number; hostIp: string };
  /** `caRoot`: PEM of a private ACME server's root, written beside the configuration for Caddy to trust. */
  acme?: { directory: string; email?: string; caRoot?: string };
  hsts?: { maxAgeSeconds: number; includeSubdomains: boolean };
}

/** What masked values are shown as. */
export const MASK = '***';

/**
 * A JSON view of the state with every secret value replaced by `***`: what `render`, status
 * and logs may show.
 */
export function maskDesired(state: DesiredState): JsonObject {
  const site = maskPaths(state.site as unknown as JsonValue, state.secretPaths);
  const view = JSON.parse(JSON.stringify({ ...state, site: null, secretPaths: undefined })) as JsonObject;
  view['site'] = site;
  view['app'] = maskValues(view['app'] ?? null);
  return view;
}

/** Every secret string in the state, for registering with a SecretRegistry. */
export function secretValues(state: DesiredState): string[] {
  const out = new Set<string>();
  for (const p of state.secretPaths) {
    const v = getPointer(state.site as unknown as JsonValue, p);
    if ((typeof v === 'string' && v !== '') || typeof v === 'number') out.add(String(v));
  }
  collectSecretValues(state.app as unknown as JsonValue, out);
  return [...out];
}

/** Reads a JSON pointer (RFC 6901) from a value; undefined when absent. */
export function getPointer(value: JsonValue, pointer: string): JsonValue | undefined {
  if (pointer === '') return value;
  let cur: JsonValue | undefined = value;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (cur !== null && typeof cur === 'object') cur = cur[key];
    else return undefined;
  }
  return cur;
}

function maskPaths(value: JsonValue, paths: readonly string[]): JsonValue {
  const copy = JSON.parse(JSON.stringify(value)) as JsonValue;
  for (const p of paths) {
    const slash = p.lastIndexOf('/');
    const parent = getPointer(copy, p.slice(0, slash));
    const key = p
      .slice(slash + 1)
      .replace(/~1/g, '/')
      .replace(/~0/g, '~');
    if (Array.isArray(parent)) parent[Number(key)] = MASK;
    else if (parent !== null && typeof parent === 'object' && key in parent) parent[key] = MASK;
  }
  return copy;
}

function isDesiredValue(v: JsonValue): v is { value: string; secret: boolean } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v['secret'] === 'boolean' && 'value' in v;
}

function maskValues(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(maskValues);
  if (v === null || typeof v !== 'object') return v;
  if (isDesiredValue(v)) return v.secret ? { value: MASK, secret: true } : v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) out[k] = maskValues(x);
  return out;
}

function collectSecretValues(v: JsonValue, out: Set<string>): void {
  if (Array.isArray(v)) for (const x of v) collectSecretValues(x, out);
  else if (v !== null && typeof v === 'object') {
    if (isDesiredValue(v)) {
      if (v.secret && v.value !== '') out.add(v.value);
      return;
    }
    for (const x of Object.values(v)) collectSecretValues(x, out);
  }
}
