import { readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { AgentError } from '../../core/errors.ts';

/**
 * The Engine API version every path is sent under (`/v1.41/containers/json`), so that the
 * engine answers in the shapes api-types.ts describes whatever its own newest version is.
 * 1.41 is Docker 20.10 (Debian bookworm's engine); later engines still serve it.
 */
export const ENGINE_API_VERSION = '1.41';

/** Where the Docker engine listens: a unix socket, or a TCP address (TLS with client certificates). */
export interface DockerConnection {
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  /** PEM, for `https`. */
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * The engine's address from `DOCKER_HOST` as the docker CLI reads it: `unix:///path` or
 * `tcp://host:port` (TLS when `DOCKER_TLS_VERIFY=1` or port 2376, with ca/cert/key.pem from
 * `DOCKER_CERT_PATH`, default ~/.docker); unset means /var/run/docker.sock.
 */
export function connectionFromEnv(env: NodeJS.ProcessEnv = process.env): DockerConnection {
  const host = env['DOCKER_HOST'];
  if (host === undefined || host === '') return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) || '/var/run/docker.sock' };
  const m = /^(?:tcp:\/\/)?([^:/]+):(\d+)\/?$/.exec(host);
  if (m === null) {
    throw new AgentError('DockerHostUnsupported', `DOCKER_HOST ${host} is not unix:// or tcp://host:port`, {
      terminal: true,
    });
  }
  const port = Number(m[2]);
  if (env['DOCKER_TLS_VERIFY'] !== '1' && port !== 2376) return { host: m[1] ?? '', port, protocol: 'http' };
  const dir = env['DOCKER_CERT_PATH'] ?? join(homedir(), '.docker');
  const pem = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return { host: m[1] ?? '', port, protocol: 'https', ca: pem('ca.pem'), cert: pem('cert.pem'), key: pem('key.pem') };
}

/**
 * An error answer of the Engine API: `statusCode` (404 no such object, 304 already in that
 * state, 409 conflict, …) and the engine's JSON body in `json`. Not an AgentError: the driver
 * turns it into one that says what it was doing (see `dockerError`).
 */
export class DockerApiError extends Error {
  override readonly name = 'DockerApiError';

  constructor(
    readonly statusCode: number,
    message: string,
    readonly json: unknown,
  ) {
    super(message);
  }
}

/** One Engine API call. Query values that are objects are sent as JSON, as the API wants filters. */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | object | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * HTTP to the Docker Engine API over node:http: buffered JSON answers, streamed answers, and
 * hijacked connections (attach, exec) that carry the raw stream both ways. Errors of the socket
 * itself (ENOENT, ECONNREFUSED, …) are passed on as they are; `dockerError` reads their `code`.
 */
export class EngineHttp {
  private readonly agent: http.Agent;

  constructor(private readonly connection: DockerConnection) {
    // No keep-alive: a local socket is cheap to open, and no idle connection outlives a dockerd restart.
    this.agent =
      connection.protocol === 'https'
        ? new https.Agent({ keepAlive: false, ...tlsOf(connection) })
        : new http.Agent({ keepAlive: false });
  }

  /** The answer's JSON (undefined for an empty body; raw bytes when it is not JSON). */
  async json<T>(req: ApiRequest): Promise<T> {
    const res = await this.send(req);
    const body = await readAll(res, req.signal);
    return parseBody(body) as T;
  }

  /** The answer as a stream, once the status says it succeeded. */
  stream(req: ApiRequest): Promise<IncomingMessage> {
    return this.send(req);
  }

  /** Upgrades the connection (`Upgrade: tcp`) and returns it: the raw stream of an attach or exec. */
  hijack(req: ApiRequest): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const r = this.request(req, { Connection: 'Upgrade', Upgrade: 'tcp' });
      r.once('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      r.once('response', (res) => {
        // An answer instead of an upgrade: an error (or an engine that does not hijack).
        errorOf(res, req.signal).then(reject, reject);
      });
      r.once('error', reject);
    });
  }

  private send(req: ApiRequest): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const r = this.request(req, {});
      r.once('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(res);
        else errorOf(res, req.signal).then(reject, reject);
      });
      r.once('error', reject);
    });
  }

  private request(req: ApiRequest, extra: Record<string, string>): http.ClientRequest {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string | number> = { ...req.headers, ...extra };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const c = this.connection;
    const options: http.RequestOptions = {
      method: req.method,
      path: `/v${ENGINE_API_VERSION}${req.path}${queryString(req.query)}`,
      headers,
      agent: this.agent,
      ...(c.socketPath === undefined ? { host: c.host, port: c.port } : { socketPath: c.socketPath }),
      ...(req.signal === undefined ? {} : { signal: req.signal }),
    };
    const r = c.protocol === 'https' ? https.request(options) : http.request(options);
    r.end(body);
    return r;
  }
}

function tlsOf(c: DockerConnection): https.AgentOptions {
  return {
    ...(c.ca === undefined ? {} : { ca: c.ca }),
    ...(c.cert === undefined ? {} : { cert: c.cert }),
    ...(c.key === undefined ? {} : { key: c.key }),
  };
}

function queryString(query: ApiRequest['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    params.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function readAll(res: IncomingMessage, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onAbort = (): void => {
      res.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      signal?.removeEventListener('abort', onAbort);
    };
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => {
      done();
      resolve(Buffer.concat(chunks));
    });
    res.once('error', (err) => {
      done();
      reject(err);
    });
  });
}

function parseBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return body;
  }
}

async function errorOf(res: IncomingMessage, signal?: AbortSignal): Promise<DockerApiError> {
  const status = res.statusCode ?? 0;
  const json = parseBody(await readAll(res, signal));
  const message =
    json !== null && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string'
      ? (json as { message: string }).message
      : Buffer.isBuffer(json)
        ? json.toString('utf8').trim()
        : `HTTP ${status}`;
  return new DockerApiError(status, message || `HTTP ${status}`, json);
}
