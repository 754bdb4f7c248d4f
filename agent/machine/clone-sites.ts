import { cloneHost } from '../core/clone.ts';
import { CLONE_LABELS, type CloneRouteLabel } from '../core/clone-state.ts';
import type { DesiredState } from '../core/desired.ts';
import { ingressInput } from '../core/ingress-config.ts';
import { withCloneSites, withoutCloneSites, type CloneSite } from '../core/ingress-clones.ts';
import type { JsonObject } from '../core/json.ts';
import { containerName } from '../core/names.ts';
import type { DockerClient } from '../drivers/docker/client.ts';
import { dockerStatus } from '../drivers/docker/errors.ts';
import type { IngressDriver } from '../drivers/ingress/caddy-admin.ts';
import { cloneDirNames, readCloneRecord } from './clone-records.ts';
import { storageLayout } from './storage-layout.ts';

/**
 * The clones production's ingress serves (purpose `clone`, with a record under the data path):
 * each routed to its containers' addresses on a network the ingress is connected to once they
 * run and pass their health check, else its own service page.
 */
export async function observeCloneSites(docker: DockerClient, production: DesiredState): Promise<CloneSite[]> {
  const layout = storageLayout(production);
  const proxy = production.app.ingress.proxy;
  if (layout === undefined || proxy === undefined) return [];
  const sites: CloneSite[] = [];
  let ingressNets: Set<string> | undefined;
  for (const name of (await cloneDirNames(layout.root)).sort()) {
    const record = await readCloneRecord(layout.root, name);
    if (record?.purpose !== 'clone') continue;
    ingressNets ??= await networksOf(docker, containerName(production.name, proxy.service));
    const routes = await routesOf(docker, production.name, name, ingressNets);
    sites.push({
      name,
      host: cloneHost(name, production.site.domain),
      routes,
      page: `The clone ${name} is starting.`,
    });
  }
  return sites;
}

/** Production's ingress with the clones laid over what production loads, and taken off what it reads. */
export function cloneAwareIngress(
  inner: IngressDriver,
  production: DesiredState,
  sites: () => Promise<CloneSite[]>,
): IngressDriver {
  return {
    read: async () => {
      const loaded = await inner.read();
      return loaded === undefined ? undefined : withoutCloneSites(loaded);
    },
    load: async (config: JsonObject) => {
      const base = ingressInput(production);
      await inner.load(base === undefined ? config : withCloneSites(config, base, await sites()));
    },
  };
}

async function routesOf(
  docker: DockerClient,
  appliance: string,
  clone: string,
  ingressNets: ReadonlySet<string>,
): Promise<CloneSite['routes']> {
  const listed = await docker.listContainers({
    all: true,
    filters: { label: [`${CLONE_LABELS.of}=${appliance}`, `${CLONE_LABELS.name}=${clone}`] },
  });
  const out: CloneSite['routes'] = [];
  let any = false;
  for (const c of listed) {
    const label = c.Labels[CLONE_LABELS.routes];
    if (label === undefined) continue;
    any = true;
    const info = await docker
      .getContainer(c.Id)
      .inspect()
      .catch(() => undefined);
    // As for production (steadyConfig): Docker says `starting` until its first check, after the
    // agent's own health gate passed; only a failing check takes the clone off.
    if (info?.State.Running !== true || info.State.Health?.Status === 'unhealthy') return [];
    const ip = Object.entries(info.NetworkSettings.Networks).find(
      ([n, ep]) => ingressNets.has(n) && ep.IPAddress !== '',
    )?.[1].IPAddress;
    if (ip === undefined) return [];
    for (const r of JSON.parse(label) as CloneRouteLabel[]) {
      out.push({ path: r.path, dial: `${ip}:${r.port}`, clientCerts: r.clientCerts });
    }
  }
  return any ? out : [];
}

async function networksOf(docker: DockerClient, container: string): Promise<Set<string>> {
  try {
    const info = await docker.getContainer(container).inspect();
    return new Set(Object.keys(info.NetworkSettings.Networks));
  } catch (err) {
    if (dockerStatus(err) === 404) return new Set();
    throw err;
  }
}
