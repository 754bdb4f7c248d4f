import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { AgentError } from '../../core/errors.ts';
import { INGRESS_ADMIN_SOCKET, INGRESS_CONFIG_FILE } from '../../core/ingress-config.ts';
import type { JsonObject } from '../../core/json.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

/** What the engine needs of the ingress: what it has loaded, and loading a new configuration. */
export interface IngressDriver {
  /** The loaded configuration; undefined when the ingress does not answer (not running yet). */
  read(): Promise<JsonObject | undefined>;
  /**
   * Writes the configuration where the container reads it at start, then loads it through the
   * admin API (graceful: connections in flight finish on the old one). Without a running
   * ingress the file is all there is to do.
   */
  load(config: JsonObject): Promise<void>;
}

const TIMEOUT_MS = 30_000;

/** Caddy's admin API on the unix socket in the host directory bind-mounted into its container. */
export class CaddyAdmin implements IngressDriver {
  private readonly socket: string;
  private readonly file: string;

  /** `files`: written beside the configuration before each load (e.g. a private ACME root). */
  constructor(
    private readonly dir: string,
    private readonly files: Readonly<Record<string, string>> = {},
  ) {
    this.socket = join(dir, INGRESS_ADMIN_SOCKET);
    this.file = join(dir, INGRESS_CONFIG_FILE);
  }

  async read(): Promise<JsonObject | undefined> {
    const res = await this.request('GET', '/config/');
    if (res === undefined || res.status !== 200) return undefined;
    const value = JSON.parse(res.body) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
  }

  async load(config: JsonObject): Promise<void> {
    const text = JSON.stringify(config);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const [name, content] of Object.entries(this.files)) {
      await writeFileAtomic(join(this.dir, name), content, { mode: 0o644 });
    }
    await writeFileAtomic(this.file, text, { mode: 0o600 });
    const res = await this.request('POST', '/load', text);
    if (res !== undefined && res.status !== 200) {
      throw new AgentError('IngressLoadFailed', `the ingress refused its configuration: ${res.body.slice(0, 500)}`, {
        data: { status: res.status },
      });
    }
  }

  /** One admin request; undefined when nothing listens on the socket. */
  private request(method: string, path: string, body?: string): Promise<{ status: number; body: string } | undefined> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socket,
          path,
          method,
          // Caddy refuses admin requests on a socket that name a host: the Host header is empty.
          setHost: false,
          headers: { Host: '', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
          timeout: TIMEOUT_MS,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: text });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new AgentError('IngressTimeout', `the ingress did not answer ${method} ${path}`)),
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
        else reject(err);
      });
      req.end(body);
    });
  }
}
