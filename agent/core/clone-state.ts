import { cloneOwner } from './clone.ts';
import type { DesiredService, DesiredState, DesiredValue } from './desired.ts';

/** Labels of a clone's objects besides the owner's: whose clone it is, its name, and its routes. */
export const CLONE_LABELS = {
  of: 'appliance.clone-of',
  name: 'appliance.clone',
  /** On a routed service's container: the clone's routes to it (JSON), for production's ingress. */
  routes: 'appliance.clone-routes',
} as const;

/** Where a clone's data lives: `<data>/clones/<name>` (its volumes, its record, its own snapshots). */
export function cloneDataDir(dataRoot: string, name: string): string {
  return `${dataRoot.replace(/\/+$/, '')}/clones/${name}`;
}

/** A clone's route to one of its services, as its container's label carries it. */
export interface CloneRouteLabel {
  path: string;
  port: number;
  clientCerts: 'off' | 'optional' | 'require';
}

/**
 * `desired` as a clone runs it: owner `<appliance>-<clone>` (so its containers, networks and
 * named volumes are its own), data and database volumes in `dataDir` (the writable snapshot) and
 * volatile ones in `volatileDir`, no ingress service and no host ports (production holds them),
 * and `settings` over the environment of the app's services (and of any service that has the
 * key) and of their commands. Pure.
 */
export function cloneDesired(
  appliance: string,
  desired: DesiredState,
  name: string,
  settings: Readonly<Record<string, string>>,
  dirs: { dataDir: string; volatileDir: string },
  /** Production's host names and the clone's own, when the clone is reached through the ingress. */
  hosts?: { production: readonly string[]; clone: string },
): DesiredState {
  const proxy = desired.app.ingress.proxy?.service;
  const routes = new Map<string, CloneRouteLabel[]>();
  for (const r of desired.app.ingress.http?.routes ?? []) {
    routes.set(r.service, [
      ...(routes.get(r.service) ?? []),
      { path: r.path, port: r.port, clientCerts: r.clientCerts },
    ]);
  }
  const overridden = (svc: { role?: string; environment: Record<string, DesiredValue> }): string[] =>
    Object.keys(settings).filter((k) => svc.role === 'app' || k in svc.environment);
  const withSettings = (env: Record<string, DesiredValue>, keys: readonly string[]): Record<string, DesiredValue> => {
    const out = hosts === undefined ? { ...env } : rehosted(env, hosts);
    for (const k of keys) out[k] = { value: settings[k] ?? '', secret: false };
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  };
  const labels = { [CLONE_LABELS.of]: appliance, [CLONE_LABELS.name]: name };
  const services: DesiredService[] = desired.app.services
    .filter((s) => s.name !== proxy)
    .map((s) => {
      const r = routes.get(s.name);
      return {
        ...s,
        ports: [],
        environment: withSettings(s.environment, overridden(s)),
        dependsOn: s.dependsOn.filter((d) => d !== proxy),
        labels: { ...s.labels, ...labels, ...(r === undefined ? {} : { [CLONE_LABELS.routes]: JSON.stringify(r) }) },
      };
    });
  const used = new Set(services.flatMap((s) => s.mounts.map((m) => m.volume)));
  const nets = new Set(services.flatMap((s) => s.networks));
  const commands = Object.fromEntries(
    Object.entries(desired.app.commands).map(([k, c]) => {
      const svc = services.find((s) => s.name === c.service);
      return [k, svc === undefined ? c : { ...c, environment: withSettings(c.environment, overridden(svc)) }];
    }),
  );
  const { proxy: _proxy, ...ingress } = desired.app.ingress;
  // A desired state built without site settings (tests) has no storage section.
  const storage = (desired.site as unknown as { storage?: { paths?: object } }).storage ?? {};
  const { clones: _clones, ...rest } = desired;
  return {
    ...rest,
    name: cloneOwner(appliance, name),
    app: {
      ...desired.app,
      services,
      volumes: desired.app.volumes
        .filter((v) => used.has(v.name))
        // A clone is never backed up: none of its volumes says otherwise, whoever reads them.
        .map((v) =>
          v.hostPath === undefined
            ? { ...v, backup: false }
            : { ...v, backup: false, hostPath: `${v.kind === 'volatile' ? dirs.volatileDir : dirs.dataDir}/${v.name}` },
        ),
      networks: desired.app.networks.filter((n) => nets.has(n.name)),
      commands,
      ingress,
    },
    site: {
      ...desired.site,
      ...(hosts === undefined ? {} : { allowed_hosts: [hosts.clone] }),
      storage: { ...storage, paths: { ...storage.paths, data: dirs.dataDir, volatile: dirs.volatileDir } },
    } as DesiredState['site'],
  };
}

/**
 * The environment with production's host names replaced by the clone's wherever a value names
 * one as a host (alone, in a list, or in a URL): an app that checks the Host header (Django's
 * ALLOWED_HOSTS, from `env.domain` or a setting) then serves the clone on its own host. Only
 * whole host names after a start, separator or `//` are replaced, so `mail.<domain>` and
 * `admin@<domain>` stay as they are; secret values are left alone.
 */
function rehosted(
  env: Record<string, DesiredValue>,
  hosts: { production: readonly string[]; clone: string },
): Record<string, DesiredValue> {
  const names = [...new Set(hosts.production)].filter((h) => h !== '' && h !== hosts.clone);
  if (names.length === 0) return { ...env };
  // Longest first, so that a host that ends another is not replaced inside it.
  const alternatives = names.sort((a, b) => b.length - a.length).map((h) => h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`(^|[\\s,;=(\\["'/])(?:${alternatives.join('|')})(?=$|[\\s,;:)\\]"'/?#])`, 'g');
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      v.secret ? v : { ...v, value: v.value.replace(pattern, (_m, before: string) => `${before}${hosts.clone}`) },
    ]),
  );
}
