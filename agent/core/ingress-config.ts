import type { DesiredState } from './desired.ts';
import { renderCaddyConfig, type IngressInput, type IngressRoute } from './ingress-caddy.ts';
import type { JsonObject } from './json.ts';
import { ingressService, type AgentSituation } from './ingress-service.ts';
import { containerName, networkName } from './names.ts';

/** Name of the ingress service the resolver adds when appliance.yml sets `images.ingress`. */
export const INGRESS_SERVICE = 'ingress';
/** Inside the ingress container: the admin socket's directory (a host directory), and Caddy's storage. */
export const INGRESS_RUN_DIR = '/run/caddy';
export const INGRESS_STORAGE_DIR = '/data';
export const INGRESS_CONFIG_FILE = 'caddy.json';
export const INGRESS_ADMIN_SOCKET = 'admin.sock';
/** Beside the configuration: the root a private ACME server's HTTPS endpoint is signed by. */
export const INGRESS_ACME_ROOT_FILE = 'acme-ca-root.pem';

/** What `ingressConfig` renders besides the desired state. */
export interface IngressOptions {
  /** What the agent is doing: every name shows its service page (see ingressService) unless it serves. */
  situation?: AgentSituation;
  /** Upstream address per service (see upstreamAddresses); a service without one is dialled by container name. */
  dial?: Readonly<Record<string, string>>;
}

/** What `upstreamAddresses` needs of a container. */
export interface AddressedContainer {
  name: string;
  state: string;
  /** Docker's health status (`unhealthy`: its health check fails). */
  health?: string;
  addresses?: Readonly<Record<string, string>>;
}

/**
 * The address of each routed service's running container on a network it shares with the
 * ingress. The ingress dials addresses, not names: Docker's name resolution can answer for a
 * container that is still starting beside the old one, and a container the agent has not
 * judged (a new one, or one that restarted with a new address) gets no traffic until the
 * agent loads its address.
 */
export function upstreamAddresses(
  desired: DesiredState,
  containers: readonly AddressedContainer[],
): Record<string, string> {
  const proxy = desired.app.ingress.proxy;
  const ingress = desired.app.services.find((s) => s.name === proxy?.service);
  if (ingress === undefined) return {};
  const internal = new Map(desired.app.networks.map((n) => [n.name, n.internal]));
  const shared = ingress.networks.map((n) => networkName(desired.name, n, internal.get(n) ?? false));
  const out: Record<string, string> = {};
  for (const r of desired.app.ingress.http?.routes ?? []) {
    const c = containers.find((x) => x.name === containerName(desired.name, r.service) && x.state === 'running');
    const ip = shared.map((n) => c?.addresses?.[n]).find((a) => a !== undefined);
    if (ip !== undefined) out[r.service] = ip;
  }
  return out;
}

/**
 * What the ingress serves once nothing is being changed: the routes to the containers'
 * addresses, or the stalled page while a routed container fails its health check (a version
 * kept by `on_failed_health: false`, or one that broke later) — users never reach an app the
 * agent judges unhealthy. The page goes the moment the check passes again (next cycle).
 */
export function steadyConfig(desired: DesiredState, containers: readonly AddressedContainer[]): JsonObject | undefined {
  const routed = [...new Set((desired.app.ingress.http?.routes ?? []).map((r) => r.service))];
  const failing = routed.filter((svc) =>
    containers.some(
      (c) => c.name === containerName(desired.name, svc) && c.state === 'running' && c.health === 'unhealthy',
    ),
  );
  if (failing.length > 0)
    return ingressConfig(desired, { situation: { kind: 'stalled', reason: 'HealthCheckFailed' } });
  return ingressConfig(desired, { dial: upstreamAddresses(desired, containers) });
}

/**
 * The ingress's Caddy configuration for the desired state: the app's routes to its containers
 * by name, or the service page. Undefined when the appliance runs no ingress. Pure: a plan
 * compares it with what Caddy has loaded.
 */
export function ingressConfig(desired: DesiredState, options: IngressOptions = {}): JsonObject | undefined {
  const input = ingressInput(desired, options);
  return input === undefined ? undefined : renderCaddyConfig(input);
}

export function ingressInput(desired: DesiredState, options: IngressOptions = {}): IngressInput | undefined {
  const { ingress } = desired.app;
  const proxy = ingress.proxy;
  if (proxy === undefined) return undefined;
  const routes: IngressRoute[] = (ingress.http?.routes ?? []).map((r) => ({
    path: r.path,
    dial: `${options.dial?.[r.service] ?? containerName(desired.name, r.service)}:${r.port}`,
    clientCerts: r.clientCerts,
  }));
  // One table of pages; the operator's manual service mode wins over what the agent is doing.
  const service = ingressService(desired, options.situation ?? { kind: 'serving' });
  return {
    names: [...ingress.serverNames],
    routes,
    ...(service === undefined ? {} : { service }),
    tls:
      proxy.acme === undefined
        ? {}
        : {
            acme: {
              directory: proxy.acme.directory,
              ...(proxy.acme.email === undefined ? {} : { email: proxy.acme.email }),
              ...(proxy.acme.caRoot === undefined
                ? {}
                : { trustedRootFiles: [`${INGRESS_RUN_DIR}/${INGRESS_ACME_ROOT_FILE}`] }),
            },
          },
    ...(ingress.clientCerts.ca === undefined ? {} : { clientCa: ingress.clientCerts.ca }),
    ...(proxy.hsts === undefined ? {} : { hsts: { ...proxy.hsts } }),
    ports: { http: proxy.ports.http, https: proxy.ports.https },
    maxBodyBytes: sizeBytes(ingress.http?.maxBodySize ?? '150m'),
    readTimeoutSeconds: ingress.http?.readTimeoutSeconds ?? 300,
    storageRoot: INGRESS_STORAGE_DIR,
    admin: `unix/${INGRESS_RUN_DIR}/${INGRESS_ADMIN_SOCKET}`,
  };
}

/** Files the ingress reads beside its configuration (name in the admin directory → content). */
export function ingressFiles(desired: DesiredState): Record<string, string> {
  const root = desired.app.ingress.proxy?.acme?.caRoot;
  return root === undefined ? {} : { [INGRESS_ACME_ROOT_FILE]: root };
}

/** Bytes of a size such as 150m (the schema's pattern). */
export function sizeBytes(size: string): number {
  const m = /^(\d+)([kmg]?)$/.exec(size);
  if (m === null) return 0;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2] as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}
