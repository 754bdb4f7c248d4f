import { renderCaddyConfig, type IngressInput, type IngressRoute } from './ingress-caddy.ts';
import { RETRY_AFTER_SECONDS } from './ingress-config.ts';
import type { JsonObject, JsonValue } from './json.ts';

/** One clone as production's ingress serves it: its routes once it runs healthy, else its own service page. */
export interface CloneSite {
  name: string;
  host: string;
  /** Empty while the clone starts (or fails): the host then shows `page`. */
  routes: IngressRoute[];
  page: string;
}

/** Prefix of the `@id` of everything the overlay adds; Caddy keeps `@id`s in the loaded configuration. */
const ID = 'clone:';

/**
 * Production's ingress configuration with the clones' host names laid over it: per clone, its
 * routes (or its service page) on the HTTPS server, the HTTP → HTTPS redirect, and a certificate
 * policy for its name. Production's own routes and page are left as they are, so the overlay is
 * added on every load and taken off on every read (`withoutCloneSites`): the production plan
 * never sees the clones, and a clone never waits for a production cycle.
 */
export function withCloneSites(config: JsonObject, base: IngressInput, sites: readonly CloneSite[]): JsonObject {
  const out = withoutCloneSites(config);
  if (sites.length === 0) return out;
  const servers = serversOf(out);
  const tls = automationOf(out);
  for (const site of sites) {
    const { service: _production, ...rest } = base;
    const rendered = renderCaddyConfig({
      ...rest,
      names: [site.host],
      routes: site.routes,
      ...(site.routes.length > 0
        ? {}
        : { service: { reason: 'starting', message: site.page, retryAfterSeconds: RETRY_AFTER_SECONDS } }),
    });
    const own = serversOf(rendered);
    for (const server of ['https', 'http'] as const) {
      const routes = (own?.[server] as JsonObject | undefined)?.['routes'];
      const target = servers?.[server] as JsonObject | undefined;
      if (!Array.isArray(routes) || target === undefined) continue;
      const tagged = routes.map((r, i) => ({ ...(r as JsonObject), '@id': `${ID}${site.name}:${server}:${i}` }));
      target['routes'] = [...tagged, ...(Array.isArray(target['routes']) ? target['routes'] : [])];
    }
    const policy = (automationOf(rendered)?.['policies'] as JsonValue[] | undefined)?.[0] as JsonObject | undefined;
    if (tls !== undefined && policy !== undefined) {
      const policies = Array.isArray(tls['policies']) ? tls['policies'] : [];
      tls['policies'] = [{ ...policy, '@id': `${ID}${site.name}:tls` }, ...policies];
    }
  }
  return out;
}

/** The configuration without what `withCloneSites` added (what production's plan compares). */
export function withoutCloneSites(config: JsonObject): JsonObject {
  const out = JSON.parse(JSON.stringify(config)) as JsonObject;
  const servers = serversOf(out);
  for (const server of Object.values(servers ?? {})) {
    if (server === null || typeof server !== 'object' || Array.isArray(server)) continue;
    const routes = server['routes'];
    if (Array.isArray(routes)) server['routes'] = routes.filter((r) => !tagged(r));
  }
  const tls = automationOf(out);
  if (tls !== undefined && Array.isArray(tls['policies'])) tls['policies'] = tls['policies'].filter((p) => !tagged(p));
  return out;
}

function tagged(v: JsonValue): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const id = v['@id'];
  return typeof id === 'string' && id.startsWith(ID);
}

function at(v: JsonValue | undefined, ...keys: string[]): JsonObject | undefined {
  let cur = v;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = cur[k];
  }
  return cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? cur : undefined;
}

function serversOf(config: JsonObject): JsonObject | undefined {
  return at(config, 'apps', 'http', 'servers');
}

function automationOf(config: JsonObject): JsonObject | undefined {
  return at(config, 'apps', 'tls', 'automation');
}
