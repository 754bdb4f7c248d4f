import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo, Socket } from 'node:net';

/** What kind of smart-HTTP request the server saw. */
export type GitRequestKind =
  | 'refAdvertisement' // GET …/info/refs?service=git-upload-pack
  | 'uploadPack' // POST …/git-upload-pack (fetch, and ls-refs for protocol v2 clients)
  | 'receivePackAdvertisement' // GET …/info/refs?service=git-receive-pack
  | 'receivePack' // POST …/git-receive-pack
  | 'other';

/** One request as the server saw it (no credentials recorded). */
export interface RecordedRequest {
  kind: GitRequestKind;
  method: string;
  path: string;
  status: number;
  /** The request carried valid credentials (always true on a server without auth). */
  authorized: boolean;
  /** The client asked for protocol v2 (`Git-Protocol: version=2`). */
  protocolV2: boolean;
}

/** Requests per kind, plus how many were answered 401. */
export type RequestCounts = Record<GitRequestKind, number> & { unauthorized: number; total: number };

/**
 * A fault the server injects into the requests that match `kinds` (all kinds when omitted):
 * `status` answers with that HTTP status, `hang` never answers (for timeouts), `corrupt` flips
 * bytes in the response body after the first `afterBytes` bytes.
 */
export type GitServerFault =
  | { kind: 'status'; status: number; kinds?: readonly GitRequestKind[] }
  | { kind: 'hang'; kinds?: readonly GitRequestKind[] }
  | { kind: 'corrupt'; afterBytes: number; kinds?: readonly GitRequestKind[] };

export interface GitServerOptions {
  /** Directory holding the bare repositories (`GIT_PROJECT_ROOT`); repo `x.git` is served at `/x.git`. */
  root: string;
  /** Require HTTP basic auth with exactly these credentials. */
  auth?: { username: string; password: string };
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Allow pushes over HTTP (`http.receivepack`); without auth the user is recorded as "anonymous". */
  allowPush?: boolean;
}

/** A running `git http-backend` behind a node HTTP server on 127.0.0.1. */
export interface GitServer {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  readonly port: number;
  /** The clone URL of `<root>/<repo>`, e.g. `url('config.git')`. */
  url(repo: string): string;
  /** Every request since start or the last `resetCounts()`. */
  readonly requests: readonly RecordedRequest[];
  counts(): RequestCounts;
  resetCounts(): void;
  /** Injects a fault into following requests until `setFault(undefined)`. */
  setFault(fault: GitServerFault | undefined): void;
  /** Closes the listener, every open connection and running backend. */
  stop(): Promise<void>;
}

const BACKEND = '/usr/lib/git-core/git-http-backend';

/** Starts a real git smart-HTTP server (git http-backend over CGI) on 127.0.0.1 and a free port. */
export async function startGitServer(options: GitServerOptions): Promise<GitServer> {
  const requests: RecordedRequest[] = [];
  const children = new Set<ChildProcess>();
  const sockets = new Set<Socket>();
  let fault: GitServerFault | undefined;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record: RecordedRequest = {
      kind: classify(req.method ?? 'GET', url),
      method: req.method ?? 'GET',
      path: url.pathname,
      status: 0,
      authorized: true,
      protocolV2: /version=2/.test(header(req, 'git-protocol')),
    };
    requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));

    if (options.auth !== undefined && !hasCredentials(req, options.auth)) {
      record.authorized = false;
      record.status = 401;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const active = fault !== undefined && (fault.kinds === undefined || fault.kinds.includes(record.kind));
    if (active && fault?.kind === 'status') {
      res.writeHead(fault.status, { 'Content-Type': 'text/plain' });
      res.end(`injected ${fault.status}\n`);
      return;
    }
    if (active && fault?.kind === 'hang') return;
    const corruptAfter = active && fault?.kind === 'corrupt' ? fault.afterBytes : undefined;
    runBackend(req, res, url, options, corruptAfter, children);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;

  return {
    baseUrl,
    port,
    url: (repo) => `${baseUrl}/${repo.replace(/^\/+/, '')}`,
    get requests() {
      return requests;
    },
    counts: () => countRequests(requests),
    resetCounts: () => {
      requests.length = 0;
    },
    setFault: (f) => {
      fault = f;
    },
    stop: async () => {
      for (const child of children) child.kill('SIGKILL');
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function classify(method: string, url: URL): GitRequestKind {
  const service = url.searchParams.get('service');
  if (method === 'GET' && url.pathname.endsWith('/info/refs')) {
    if (service === 'git-upload-pack') return 'refAdvertisement';
    if (service === 'git-receive-pack') return 'receivePackAdvertisement';
  }
  if (method === 'POST' && url.pathname.endsWith('/git-upload-pack')) return 'uploadPack';
  if (method === 'POST' && url.pathname.endsWith('/git-receive-pack')) return 'receivePack';
  return 'other';
}

function countRequests(requests: readonly RecordedRequest[]): RequestCounts {
  const counts: RequestCounts = {
    refAdvertisement: 0,
    uploadPack: 0,
    receivePackAdvertisement: 0,
    receivePack: 0,
    other: 0,
    unauthorized: 0,
    total: requests.length,
  };
  for (const r of requests) {
    counts[r.kind] += 1;
    if (!r.authorized) counts.unauthorized += 1;
  }
  return counts;
}

function header(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function hasCredentials(req: IncomingMessage, auth: { username: string; password: string }): boolean {
  const match = /^Basic\s+(.+)$/i.exec(header(req, 'authorization'));
  if (match?.[1] === undefined) return false;
  return Buffer.from(match[1], 'base64').toString('utf8') === `${auth.username}:${auth.password}`;
}

function runBackend(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  options: GitServerOptions,
  corruptAfter: number | undefined,
  children: Set<ChildProcess>,
): void {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: options.root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: header(req, 'content-type'),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    GATEWAY_INTERFACE: 'CGI/1.1',
  };
  const length = header(req, 'content-length');
  if (length !== '') env['CONTENT_LENGTH'] = length;
  const encoding = header(req, 'content-encoding');
  if (encoding !== '') env['HTTP_CONTENT_ENCODING'] = encoding;
  const protocol = header(req, 'git-protocol');
  if (protocol !== '') env['GIT_PROTOCOL'] = protocol;
  if (options.auth !== undefined) env['REMOTE_USER'] = options.auth.username;
  if (options.allowPush === true) {
    env['REMOTE_USER'] ??= 'anonymous';
    Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.receivepack', GIT_CONFIG_VALUE_0: 'true' });
  }

  const child = spawn(BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.on('close', () => children.delete(child));
  child.on('error', (err) => {
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(`backend failed: ${err.message}\n`);
  });
  child.stderr.resume();
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  // The client went away before the answer was complete: stop the backend.
  res.on('close', () => {
    if (!res.writableFinished) child.kill('SIGKILL');
  });

  let head = Buffer.alloc(0);
  let headersDone = false;
  let sent = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(corrupt(chunk, sent, corruptAfter));
      sent += chunk.length;
      return;
    }
    head = Buffer.concat([head, chunk]);
    const split = findHeaderEnd(head);
    if (split === undefined) return;
    headersDone = true;
    writeCgiHeaders(res, head.subarray(0, split.at).toString('latin1'));
    const body = head.subarray(split.at + split.length);
    if (body.length > 0) {
      res.write(corrupt(body, sent, corruptAfter));
      sent += body.length;
    }
  });
  child.stdout.on('end', () => {
    if (!headersDone) {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('backend sent no headers\n');
      return;
    }
    res.end();
  });
}

function findHeaderEnd(buf: Buffer): { at: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { at: crlf, length: 4 };
  if (lf !== -1) return { at: lf, length: 2 };
  return undefined;
}

function writeCgiHeaders(res: ServerResponse, text: string): void {
  let status = 200;
  let message = 'OK';
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      const m = /^(\d{3})\s*(.*)$/.exec(value);
      if (m?.[1] !== undefined) {
        status = Number(m[1]);
        message = m[2] ?? '';
      }
    } else {
      headers[name] = value;
    }
  }
  res.writeHead(status, message, headers);
}

function corrupt(chunk: Buffer, offset: number, after: number | undefined): Buffer {
  if (after === undefined || offset + chunk.length <= after) return chunk;
  const out = Buffer.from(chunk);
  for (let i = Math.max(0, after - offset); i < out.length; i += 97) out[i] = (out[i] ?? 0) ^ 0xff;
  return out;
}
