import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentStatus } from '../core/status.ts';
import type { Logger } from '../lib/log.ts';
import type { SecretRegistry } from '../lib/secrets.ts';
import { AgentError } from '../core/errors.ts';
import { renderMetrics } from './metrics.ts';
import { DEFAULT_SYNC_RATE, SyncGate, type SyncRate } from './sync-gate.ts';
import { hasSignatureHeader, webhookAuthorized } from './webhook-auth.ts';

export interface HttpApiDeps {
  /** The status as served (the loop's, plus backups). */
  status: () => AgentStatus | Promise<AgentStatus>;
  /** Starts a cycle (not awaited: the webhook answers at once). */
  trigger: (reason: string) => void;
  log: Logger;
  secrets: SecretRegistry;
  now?: () => Date;
}

export interface HttpApiOptions {
  /** host:port; port 0 picks a free one. */
  listen: string;
  /** Without a secret, POST /sync is refused. */
  webhookSecret?: string;
  /** /healthz fails when no cycle has ended for this long (a stuck loop). */
  staleAfterMs: number;
  /** Connections served at once (default 64); more are closed at once. */
  maxConnections?: number;
  /** How often POST /sync may start a cycle (default 5 at once, then 10 a minute). */
  syncRate?: SyncRate;
}

/** Webhook payloads of the forges are a few KiB; the agent does not even read them. */
const MAX_BODY = 64 * 1024;
/** A client has this long to send its headers, and this long for the whole request. */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** GET /status, /metrics, /healthz and POST /sync (HMAC-signed webhook). */
export async function startHttpApi(
  deps: HttpApiDeps,
  options: HttpApiOptions,
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const gate = new SyncGate(options.syncRate ?? DEFAULT_SYNC_RATE, () => now().getTime());
  // The timeouts are checked every connectionsCheckingInterval: keep it below them.
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.log.error({ err }, 'http handler failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/status') {
      send(res, 200, deps.secrets.scrubDeep(await deps.status()));
    } else if (req.method === 'GET' && path === '/metrics') {
      const text = renderMetrics(await deps.status(), now(), process.memoryUsage());
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(deps.secrets.scrub(text));
    } else if (req.method === 'GET' && path === '/healthz') {
      const status = await deps.status();
      const last = Date.parse(status.lastCycleFinishedAt ?? started.toISOString());
      const age = now().getTime() - last;
      // A long backup job holds the loop on purpose: that is not a stuck loop.
      const ok = age <= options.staleAfterMs || status.backup?.status.running?.pid === process.pid;
      send(res, ok ? 200 : 503, { ok, lastCycleAgeSeconds: Math.round(age / 1000) });
    } else if (req.method === 'POST' && path === '/sync') {
      const [code, reply] = await webhook(req, res);
      send(res, code, reply);
    } else {
      send(res, 404, { error: 'not found' });
    }
  }

  async function webhook(req: IncomingMessage, res: ServerResponse): Promise<[number, object]> {
    // Refusals that need no body are answered before reading any of it; the connection is then closed.
    if (options.webhookSecret === undefined) return refuseUnread(res, 403, 'webhook not configured');
    if (!hasSignatureHeader(req.headers)) return refuseUnread(res, 401, 'bad signature');
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return refuseUnread(res, 413, 'body too large');
    const body = await readBody(req);
    if (body === undefined) return refuseUnread(res, 413, 'body too large');
    if (!webhookAuthorized(options.webhookSecret, body, req.headers)) {
      deps.log.warn({ remote: req.socket.remoteAddress }, 'webhook refused: bad or missing signature');
      return [401, { error: 'bad signature' }];
    }
    const verdict = gate.admit(req.headers);
    if (verdict === 'duplicate') return [200, { accepted: false, duplicate: true }];
    if (verdict === 'limited') {
      res.setHeader('retry-after', String(gate.retryAfterSeconds()));
      return [429, { error: 'too many sync requests' }];
    }
    deps.trigger('webhook');
    return [202, { accepted: true }];
  }

  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.maxConnections = options.maxConnections ?? 64;

  const { host, port } = parseListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function refuseUnread(res: ServerResponse, code: number, error: string): [number, object] {
  // The unread body is not drained: the connection ends with the answer.
  res.setHeader('connection', 'close');
  return [code, { error }];
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** `host:port`, `[v6]:port` or `:port`. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (m === null) {
    throw new AgentError('SettingInvalid', `listen address '${listen}' is not host:port`, {
      terminal: true,
      data: { listen },
    });
  }
  return { host: m[1] ?? (m[2] === '' || m[2] === undefined ? '127.0.0.1' : m[2]), port: Number(m[3]) };
}
