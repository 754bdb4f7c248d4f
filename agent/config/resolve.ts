import type {
  CommandName,
  DesiredApp,
  DesiredClone,
  DesiredCommand,
  DesiredService,
  DesiredState,
  DesiredValue,
  DesiredVolume,
} from '../core/desired.ts';
import { cloneSettings } from '../core/clone.ts';
import type { JsonValue } from '../core/json.ts';
import { commandEntries, startOrder } from './app-rules.ts';
import { resolveRef, resolveValue, scalarText } from './refs.ts';
import { resolveDumpDir } from './resolve-dump-dir.ts';
import { resolveIngress } from './resolve-ingress.ts';
import type { AppDefinition, ApplianceConfig, AppService, EnvConfig } from '../core/config-types.gen.ts';

/** Inputs of `resolveDesired`: documents that passed their schemas and every cross-field rule. */
export interface ResolveInput {
  name: string;
  revision: string;
  appFile: string;
  app: AppDefinition;
  appliance: ApplianceConfig;
  env: EnvConfig;
  /** JSON pointers of secret values in `env`. */
  secretPaths: readonly string[];
}

/** Builds the DesiredState: pure, and total for inputs that passed validation. */
export function resolveDesired(input: ResolveInput): DesiredState {
  const { app, appliance } = input;
  const site: EnvConfig = { ...input.env, allowed_hosts: input.env.allowed_hosts ?? [input.env.domain] };
  const envTree = site as unknown as JsonValue;
  const secret = new Set(input.secretPaths);
  const value = (v: JsonValue): DesiredValue => resolveValue(v, envTree, secret);

  const volumes: DesiredVolume[] = Object.entries(app.volumes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, v]) => {
      const base = v.kind === 'volatile' ? site.storage.paths.volatile : site.storage.paths.data;
      return {
        name,
        kind: v.kind,
        ...(v.kind === 'named' ? {} : { hostPath: `${base}/${v.path ?? name}` }),
        backup: v.kind === 'data' && v.backup !== false,
        ...(v.owner === undefined ? {} : { owner: v.owner }),
      };
    });

  const environmentOf = (name: string, svc: AppService): Record<string, DesiredValue> => {
    const env: Record<string, DesiredValue> = {};
    if (svc.environment_from.includes('settings')) {
      for (const [k, v] of Object.entries(site.app.settings)) env[k] = { value: scalarText(v), secret: false };
    }
    if (svc.environment_from.includes('secrets')) {
      for (const [k, v] of Object.entries(site.app.secrets)) env[k] = { value: v, secret: true };
    }
    for (const [k, v] of Object.entries(svc.environment)) env[k] = value(v as JsonValue);
    for (const [k, v] of Object.entries(appliance.services[name]?.environment ?? {})) {
      env[k] = { value: scalarText(v), secret: false };
    }
    return sortKeys(env);
  };

  const services: DesiredService[] = startOrder(app.services).map((name) => {
    const svc = app.services[name] as AppService;
    const memoryLimit = appliance.services[name]?.memory_limit ?? svc.memory_limit;
    const hc = svc.healthcheck;
    return {
      name,
      role: svc.role,
      image: appliance.images[name] ?? svc.image ?? '',
      ...(svc.command === undefined ? {} : { command: [...svc.command] }),
      ...(svc.entrypoint === undefined ? {} : { entrypoint: [...svc.entrypoint] }),
      ...(svc.user === undefined ? {} : { user: svc.user }),
      ...(svc.working_dir === undefined ? {} : { workingDir: svc.working_dir }),
      environment: environmentOf(name, svc),
      secretFiles: svc.secret_files.map((f) => ({
        target: f.target,
        value: resolveRef(f.from, envTree, secret),
        owner: f.owner,
      })),
      ports: svc.ports.map((p) => ({ container: p.container, host: p.host, hostIp: p.host_ip, protocol: p.protocol })),
      mounts: svc.volumes.map((m) => ({ volume: m.volume, target: m.target, readOnly: m.read_only })),
      networks: [...(svc.networks ?? ['default'])],
      dependsOn: [...svc.depends_on],
      ...(hc === undefined
        ? {}
        : {
            healthcheck: {
              ...(hc.http === undefined
                ? {}
                : { http: { port: hc.http.port, path: hc.http.path, status: hc.http.status } }),
              ...(hc.cmd === undefined ? {} : { cmd: [...hc.cmd] }),
              intervalSeconds: hc.interval_seconds,
              timeoutSeconds: hc.timeout_seconds,
              retries: hc.retries,
              startPeriodSeconds: hc.start_period_seconds,
            },
          }),
      restart: svc.restart,
      labels: sortKeys({ ...svc.labels }),
      ...(memoryLimit === undefined ? {} : { memoryLimit }),
      stopTimeoutSeconds: svc.stop_timeout_seconds,
    };
  });
  const byName = new Map(services.map((s) => [s.name, s]));

  const commands: Partial<Record<CommandName, DesiredCommand>> = {};
  for (const [name, cmd] of commandEntries(app)) {
    const svc = byName.get(cmd.service);
    const own: Record<string, DesiredValue> = {};
    for (const [k, v] of Object.entries(cmd.environment)) own[k] = value(v as JsonValue);
    commands[name] = {
      name,
      service: cmd.service,
      image: svc?.image ?? '',
      command: [...cmd.command],
      environment: sortKeys({ ...(svc?.environment ?? {}), ...own }),
      timeoutSeconds: cmd.timeout_seconds,
      ...('pending_exit_code' in cmd ? { pendingExitCode: cmd.pending_exit_code } : {}),
      ...('newer_exit_code' in cmd ? { newerExitCode: cmd.newer_exit_code } : {}),
    };
  }

  const dbIndex = app.database === undefined ? -1 : services.findIndex((s) => s.name === app.database?.service);
  const dump = dbIndex < 0 ? undefined : resolveDumpDir(site.storage.paths.data, services[dbIndex] as DesiredService);
  if (dump !== undefined) {
    services[dbIndex] = dump.service;
    volumes.push(dump.volume);
  }
  const ingress = resolveIngress(app, appliance, site, services);
  if (ingress !== undefined) {
    services.push(ingress.service);
    volumes.push(...ingress.volumes);
  }
  const hostPathOf = (volume: string): string | undefined => volumes.find((v) => v.name === volume)?.hostPath;
  const ca = app.ingress.client_ca;
  const certs = site.tls.client_certs;
  const http = app.ingress.http;
  const desiredApp: DesiredApp = {
    name: app.name,
    file: input.appFile,
    services,
    volumes,
    networks: networksOf(app, services),
    ...(app.database === undefined
      ? {}
      : {
          database: {
            service: app.database.service,
            name: app.database.name,
            user: app.database.user,
            password: resolveRef(app.database.password_from, envTree, secret),
            ...(dump === undefined ? {} : { dumpDir: dump.dumpDir }),
          },
        }),
    commands,
    ingress: {
      ...(appliance.service_mode?.enabled === true
        ? { service: { reason: 'manual' as const, message: appliance.service_mode.message } }
        : {}),
      serverNames: [...(site.allowed_hosts ?? [])],
      ...(http === undefined
        ? {}
        : {
            http: {
              routes: http.routes.map((r) => ({
                path: r.path,
                service: r.service,
                port: r.port,
                clientCerts: r.client_certs ?? ROUTE_CERTS[certs.mode],
              })),
              maxBodySize: http.max_body_size,
              readTimeoutSeconds: http.read_timeout_seconds,
            },
          }),
      ...(app.ingress.smtp === undefined ? {} : { smtp: { ...app.ingress.smtp } }),
      ...(ingress === undefined ? {} : { proxy: ingress.proxy }),
      clientCerts: {
        mode: certs.mode,
        ...(certs.ca === undefined ? {} : { ca: certs.ca }),
        ...(ca === undefined ? {} : { caFile: `${hostPathOf(ca.volume) ?? ''}/${ca.ca_file}` }),
        ...(ca?.crl_file === undefined ? {} : { crlFile: `${hostPathOf(ca.volume) ?? ''}/${ca.crl_file}` }),
      },
    },
    cloneSettings: sortKeys(Object.fromEntries(Object.entries(app.clone.settings).map(([k, v]) => [k, scalarText(v)]))),
  };

  return {
    name: input.name,
    revision: input.revision,
    ...(appliance.agent === undefined ? {} : { agentVersion: appliance.agent.version }),
    timezone: appliance.timezone,
    app: desiredApp,
    schedules: { ...appliance.schedules },
    policies: appliance.policies,
    site,
    secretPaths: [...input.secretPaths],
    ...(appliance.clones.length === 0 ? {} : { clones: clonesOf(appliance, desiredApp.cloneSettings) }),
    ...(appliance.preflight === undefined ? {} : { preflight: { refs: [...appliance.preflight.refs] } }),
  };
}

const DURATION_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** appliance.yml clones with their expiry in milliseconds and their settings merged. */
function clonesOf(appliance: ApplianceConfig, appDefaults: Record<string, string>): DesiredClone[] {
  const days = appliance.policies.snapshots.clone_expiry_days ?? 3;
  return appliance.clones.map((c) => {
    const m = /^(\d+)([mhd])$/.exec(c.expires_after ?? '');
    const ms = m === null ? days * DURATION_MS.d : Number(m[1]) * DURATION_MS[m[2] as 'm' | 'h' | 'd'];
    return { name: c.name, expiresAfterMs: ms, settings: cloneSettings(appDefaults, c.settings) };
  });
}

/** A route's client certificates when it does not say: env.yml tls.client_certs.mode. */
const ROUTE_CERTS = { off: 'off', optional: 'optional', mandatory: 'require' } as const;

function networksOf(app: AppDefinition, services: readonly DesiredService[]): DesiredApp['networks'] {
  const names = new Set(Object.keys(app.networks));
  for (const s of services) for (const n of s.networks) names.add(n);
  return [...names].sort().map((name) => ({ name, internal: app.networks[name]?.internal ?? false }));
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
