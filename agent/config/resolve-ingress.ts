import type { DesiredProxy, DesiredService, DesiredVolume } from '../core/desired.ts';
import { INGRESS_CONFIG_FILE, INGRESS_RUN_DIR, INGRESS_SERVICE, INGRESS_STORAGE_DIR } from '../core/ingress-config.ts';
import type { AppDefinition, ApplianceConfig, EnvConfig } from '../core/config-types.gen.ts';

/** The ingress as the resolver adds it to the app: its service, its two directories, and its settings. */
export interface ResolvedIngress {
  service: DesiredService;
  volumes: DesiredVolume[];
  proxy: DesiredProxy;
}

/**
 * The agent's ingress when appliance.yml sets `images.ingress` (pinned like the app's images, so
 * it is updated by pull request): one Caddy container on the networks of the services it routes
 * to, publishing env.yml's ports. Its storage (ACME account keys, certificates) lives under the
 * data path but outside the snapshotted volumes (it holds no app data), and its admin socket in
 * a directory only the agent and the container see.
 */
export function resolveIngress(
  app: AppDefinition,
  appliance: ApplianceConfig,
  site: EnvConfig,
  services: readonly DesiredService[],
): ResolvedIngress | undefined {
  const image = appliance.images[INGRESS_SERVICE];
  if (image === undefined || INGRESS_SERVICE in app.services) return undefined;
  const settings = site.ingress;
  const base = `${site.storage.paths.data}/ingress`;
  const storage: DesiredVolume = {
    name: 'ingress-storage',
    kind: 'volatile',
    hostPath: `${base}/storage`,
    backup: false,
  };
  const admin: DesiredVolume = { name: 'ingress-admin', kind: 'volatile', hostPath: `${base}/admin`, backup: false };
  const internal = new Set(Object.entries(app.networks).flatMap(([n, v]) => (v.internal ? [n] : [])));
  const routed = new Set((app.ingress.http?.routes ?? []).map((r) => r.service));
  const nets = services.filter((s) => routed.has(s.name)).flatMap((s) => s.networks);
  // Routed services reach the ingress on their open networks; an internal one only when they have no other.
  const open = nets.filter((n) => !internal.has(n));
  const networks = [...new Set(open.length > 0 ? open : nets.length > 0 ? nets : ['default'])].sort();
  const ports = { http: settings.http_port, https: settings.https_port, hostIp: settings.host_ip };
  const acme = site.tls.acme;
  const service: DesiredService = {
    name: INGRESS_SERVICE,
    role: 'support',
    image,
    command: ['run', '--config', `${INGRESS_RUN_DIR}/${INGRESS_CONFIG_FILE}`],
    environment: {},
    secretFiles: [],
    ports: [
      { container: ports.http, host: ports.http, hostIp: ports.hostIp, protocol: 'tcp' },
      { container: ports.https, host: ports.https, hostIp: ports.hostIp, protocol: 'tcp' },
    ],
    mounts: [
      { volume: storage.name, target: INGRESS_STORAGE_DIR, readOnly: false },
      { volume: admin.name, target: INGRESS_RUN_DIR, readOnly: false },
    ],
    networks,
    dependsOn: [],
    restart: 'unless-stopped',
    labels: {},
    stopTimeoutSeconds: 10,
  };
  const proxy: DesiredProxy = {
    service: INGRESS_SERVICE,
    adminDir: admin.hostPath ?? '',
    storageDir: storage.hostPath ?? '',
    ports,
    ...(acme.enabled && site.tls.key === undefined
      ? {
          acme: {
            directory: acme.directory_url,
            ...(acme.email === undefined ? {} : { email: acme.email }),
            ...(acme.ca_root === undefined ? {} : { caRoot: acme.ca_root }),
          },
        }
      : {}),
    ...(settings.hsts_max_age_seconds > 0
      ? { hsts: { maxAgeSeconds: settings.hsts_max_age_seconds, includeSubdomains: settings.hsts_include_subdomains } }
      : {}),
  };
  return { service, volumes: [storage, admin], proxy };
}
