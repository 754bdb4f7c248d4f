import type { JsonObject, JsonValue } from './json.ts';

/** Why every name answers with the service page instead of the app. */
export type ServiceReason = 'updating' | 'starting' | 'recovering' | 'stalled' | 'manual' | 'unconfigured';

/** One HTTPS route: a path prefix to an upstream, and what it asks of the client's certificate. */
export interface IngressRoute {
  path: string;
  /** host:port the proxy dials (a container name on the app's network and the service's port). */
  dial: string;
  /** optional: ask for a certificate and pass the result on; require: refuse requests without a valid one. */
  clientCerts: 'off' | 'optional' | 'require';
}

/** Everything the ingress configuration is made from; the agent fills it from the desired state. */
export interface IngressInput {
  names: readonly string[];
  routes: readonly IngressRoute[];
  /** Set while the app must not take traffic: every name answers 503 with this reason. */
  service?: { reason: ServiceReason; message: string; retryAfterSeconds: number };
  tls: {
    /** ACME (http-01); without it, or when it fails, the internal CA signs the certificate. */
    acme?: { directory: string; email?: string; trustedRootFiles?: readonly string[] };
  };
  /** PEM of the CA that signs client certificates (needed when a route asks for them). */
  clientCa?: string;
  hsts?: { maxAgeSeconds: number; includeSubdomains: boolean };
  ports: { http: number; https: number };
  maxBodyBytes: number;
  readTimeoutSeconds: number;
  /** Where Caddy keeps account keys and certificates (on the data volume). */
  storageRoot: string;
  /** The admin endpoint the agent reloads through. */
  admin: string;
}

const SECURITY_HEADERS: Record<string, string[]> = {
  'X-Content-Type-Options': ['nosniff'],
  'Referrer-Policy': ['strict-origin-when-cross-origin'],
  'X-Frame-Options': ['SAMEORIGIN'],
};

/** Caddy's log of certificate orders, in its storage root (see drivers/ingress/certificates.ts). */
export const ACME_LOG_FILE = 'acme.log';
/**
 * How long a certificate of the internal CA lasts. Caddy renews it when a third is left, trying
 * the issuers in order, so ACME is tried again about every 40 minutes while it fails.
 */
export const FALLBACK_LIFETIME = '1h';

/**
 * The Caddy JSON configuration of the ingress. Pure: the same input gives the same document,
 * so a changed document is a plan step and an unchanged one is nothing to do. Port 80 redirects
 * to HTTPS, except ACME challenges (Caddy answers them before any route) and the service page.
 * ACME is tried first and the internal CA signs when it fails, so a name is always served.
 */
export function renderCaddyConfig(input: IngressInput): JsonObject {
  const names = [...input.names];
  const asksCerts = input.routes.some((r) => r.clientCerts !== 'off');
  const https: JsonObject = {
    listen: [`:${input.ports.https}`],
    routes: input.service === undefined ? appRoutes(input) : [servicePage(input, names)],
    tls_connection_policies: [
      ...(asksCerts && input.clientCa !== undefined
        ? [
            {
              match: { sni: names },
              client_authentication: { trusted_ca_certs: [pemBody(input.clientCa)], mode: 'verify_if_given' },
            },
          ]
        : []),
      {},
    ],
    automatic_https: { disable_redirects: true },
  };
  const http: JsonObject = {
    listen: [`:${input.ports.http}`],
    routes:
      input.service === undefined
        ? [
            {
              match: [{ host: names }],
              handle: [
                {
                  handler: 'static_response',
                  status_code: 308,
                  headers: { Location: [`https://{http.request.host}${httpsPort(input)}{http.request.uri}`] },
                },
              ],
              terminal: true,
            },
          ]
        : [servicePage(input, names)],
  };
  const issuers: JsonValue[] = [
    ...(input.tls.acme === undefined
      ? []
      : [
          {
            module: 'acme',
            ca: input.tls.acme.directory,
            ...(input.tls.acme.email === undefined ? {} : { email: input.tls.acme.email }),
            ...(input.tls.acme.trustedRootFiles === undefined
              ? {}
              : { trusted_roots_pem_files: [...input.tls.acme.trustedRootFiles] }),
            challenges: { 'tls-alpn': { disabled: true } },
          },
        ]),
    // A short-lived fallback: each renewal (every ~40 min) tries ACME again first.
    { module: 'internal', lifetime: FALLBACK_LIFETIME },
  ];
  return {
    admin: { listen: input.admin },
    storage: { module: 'file_system', root: input.storageRoot },
    // Why an order failed is only in Caddy's log: a file beside the certificates the agent reads.
    logging: {
      logs: {
        acme: {
          writer: { output: 'file', filename: `${input.storageRoot}/${ACME_LOG_FILE}`, roll_size_mb: 1, roll_keep: 1 },
          encoder: { format: 'json' },
          include: ['tls.obtain', 'tls.renew', 'tls.issuance.acme'],
        },
      },
    },
    apps: {
      http: {
        http_port: input.ports.http,
        https_port: input.ports.https,
        servers: { https, http },
      },
      tls: { automation: { policies: [{ subjects: names, issuers }] } },
      // The internal CA's root stays in Caddy's storage: never added to the host's trust store.
      pki: { certificate_authorities: { local: { install_trust: false } } },
    },
  };
}

function appRoutes(input: IngressInput): JsonValue[] {
  // Longest prefix first: Caddy takes the first route that matches.
  const routes = [...input.routes].sort((a, b) => b.path.length - a.path.length || a.path.localeCompare(b.path));
  return routes.map((r) => ({
    match: [{ host: [...input.names], path: [r.path === '/' ? '/*' : `${r.path.replace(/\/$/, '')}*`] }],
    handle: [
      { handler: 'headers', response: { set: responseHeaders(input) } },
      ...(r.clientCerts === 'off' ? [] : [clientVerifyMap()]),
      ...(r.clientCerts === 'require' ? [refuseWithoutCertificate()] : []),
      { handler: 'request_body', max_size: input.maxBodyBytes },
      {
        handler: 'reverse_proxy',
        upstreams: [{ dial: r.dial }],
        transport: { protocol: 'http', read_timeout: input.readTimeoutSeconds * 1_000_000_000 },
        headers: { request: { set: forwardedClient(r.clientCerts) } },
      },
    ],
    terminal: true,
  }));
}

function responseHeaders(input: IngressInput): Record<string, string[]> {
  const hsts = input.hsts;
  return {
    ...SECURITY_HEADERS,
    ...(hsts === undefined
      ? {}
      : {
          'Strict-Transport-Security': [
            `max-age=${hsts.maxAgeSeconds}${hsts.includeSubdomains ? '; includeSubDomains' : ''}`,
          ],
        }),
  };
}

/** A request without a verified client certificate gets 403 on a `require` route (after the map). */
function refuseWithoutCertificate(): JsonObject {
  return {
    handler: 'subroute',
    routes: [
      {
        match: [{ vars: { '{client_verify}': ['NONE'] } }],
        handle: [
          {
            handler: 'static_response',
            status_code: 403,
            headers: { 'Content-Type': ['text/plain; charset=utf-8'] },
            body: 'A client certificate is required here.\n',
          },
        ],
        terminal: true,
      },
    ],
  };
}

/** Without a certificate the tls.client placeholders are unset; the map turns that into plain values. */
function clientVerifyMap(): JsonObject {
  return {
    handler: 'map',
    source: '{http.request.tls.client.fingerprint}',
    destinations: ['{client_verify}', '{client_serial}'],
    mappings: [{ input: '', outputs: ['NONE', ''] }],
    defaults: ['SUCCESS', '{http.request.tls.client.serial}'],
  };
}

/** What the app learns of the client's certificate; a client can never set these itself. */
function forwardedClient(mode: IngressRoute['clientCerts']): Record<string, string[]> {
  if (mode === 'off') return { 'X-Ssl-Client-Verify': ['NONE'], 'X-Ssl-Client-Serial': [''] };
  return { 'X-Ssl-Client-Verify': ['{client_verify}'], 'X-Ssl-Client-Serial': ['{client_serial}'] };
}

function servicePage(input: IngressInput, names: string[]): JsonObject {
  const s = input.service;
  if (s === undefined) throw new Error('servicePage without a service mode');
  return {
    match: [{ host: names }],
    handle: [
      {
        handler: 'static_response',
        status_code: 503,
        headers: {
          ...SECURITY_HEADERS,
          'Content-Type': ['text/html; charset=utf-8'],
          'Retry-After': [String(s.retryAfterSeconds)],
          'Cache-Control': ['no-store'],
        },
        body: servicePageHtml(s.message),
      },
    ],
    terminal: true,
  };
}

/** The plain page every name shows in service mode; `message` is escaped. */
export function servicePageHtml(message: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>Service not available</title>',
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>',
    '<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; padding: 0 1em">',
    '<h1>Service not available</h1>',
    `<p id="reason">${escapeHtml(message)}</p>`,
    '<p>Please try again in a moment.</p>',
    '</body></html>',
    '',
  ].join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The port part of the redirect target: empty for 443. */
function httpsPort(input: IngressInput): string {
  return input.ports.https === 443 ? '' : `:${input.ports.https}`;
}

/** The base64 DER inside a PEM certificate (Caddy's trusted_ca_certs). */
function pemBody(pem: string): string {
  return pem
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '')
    .trim();
}
