import { resolveIngress } from '../agent/config/resolve-ingress.ts';
import type { AppDefinition, ApplianceConfig, EnvConfig } from '../agent/core/config-types.gen.ts';
import type { DesiredState } from '../agent/core/desired.ts';

export interface IngressInput {
  /** The caddy image reference (by digest). */
  image: string;
  /** The data path: the ingress keeps its storage and admin socket under it. */
  dataPath: string;
  ports: { http: number; https: number };
  /** Host names (default localhost). */
  names?: string[];
  /** ACME directory, and the root its HTTPS endpoint is signed by (a private one such as pebble). */
  acme?: { directory: string; email?: string; caRoot?: string };
  clientCa?: string;
  /** Routes (default: / to web:8080 without client certificates). */
  routes?: { path: string; service: string; port: number; clientCerts: 'off' | 'optional' | 'require' }[];
}

/**
 * Adds the agent's ingress to a desired state built by hand (see demoDesired), as the resolver
 * does for appliance.yml `images.ingress`: its service and directories, its settings, the
 * routes; app services routed to lose their host ports (only the ingress listens).
 */
export function withIngress(d: DesiredState, input: IngressInput): DesiredState {
  const routes = input.routes ?? [{ path: '/', service: 'web', port: 8080, clientCerts: 'off' as const }];
  const app = {
    services: Object.fromEntries(d.app.services.map((s) => [s.name, {}])),
    networks: Object.fromEntries(d.app.networks.map((n) => [n.name, { internal: n.internal }])),
    ingress: { http: { routes } },
  } as unknown as AppDefinition;
  const appliance = { images: { ingress: input.image } } as unknown as ApplianceConfig;
  const site = {
    ingress: {
      http_port: input.ports.http,
      https_port: input.ports.https,
      host_ip: '127.0.0.1',
      hsts_max_age_seconds: 0,
      hsts_include_subdomains: false,
    },
    storage: { paths: { data: input.dataPath } },
    tls: {
      acme:
        input.acme === undefined
          ? { enabled: false, directory_url: '' }
          : {
              enabled: true,
              directory_url: input.acme.directory,
              email: input.acme.email,
              ca_root: input.acme.caRoot,
            },
    },
  } as unknown as EnvConfig;
  const routed = new Set(routes.map((r) => r.service));
  for (const s of d.app.services) if (routed.has(s.name)) s.ports = [];
  const resolved = resolveIngress(app, appliance, site, d.app.services);
  if (resolved === undefined) throw new Error('no ingress resolved');
  d.app.services.push(resolved.service);
  d.app.volumes.push(...resolved.volumes);
  d.app.ingress = {
    serverNames: input.names ?? ['localhost'],
    http: { routes, maxBodySize: '10m', readTimeoutSeconds: 60 },
    proxy: resolved.proxy,
    clientCerts: { mode: 'off', ...(input.clientCa === undefined ? {} : { ca: input.clientCa }) },
  };
  return d;
}
