import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake forge received. */
export interface ForgeCall {
  method: string;
  path: string;
  /** `authorization` or `private-token`, as sent. */
  auth: string | undefined;
  body: unknown;
}

export interface FakeForge {
  /** API roots as each forge serves them: GitHub at `/`, Gitea/Forgejo at `/api/v1`, GitLab at `/api/v4`. */
  apiUrl(kind: 'github' | 'gitea' | 'gitlab'): string;
  /** Requests answered 201, in order. */
  readonly calls: ForgeCall[];
  /** Every request, also those refused (401) or failed (503). */
  readonly attempts: ForgeCall[];
  /** `unavailable`: every request gets 503; `undefined`: serves. */
  fault: 'unavailable' | undefined;
  /** The token accepted (a request with another gets 401). */
  token: string;
  stop(): Promise<void>;
}

/**
 * A recording stand-in for the commit-status endpoints of GitHub, Gitea/Forgejo and GitLab
 * (none can run here), implementing only what the agent calls, as the forges' API docs give them:
 * `POST /repos/{owner}/{repo}/statuses/{sha}` (GitHub, `Authorization: Bearer|token`),
 * `POST /api/v1/repos/{owner}/{repo}/statuses/{sha}` (Gitea/Forgejo, `Authorization: token`),
 * `POST /api/v4/projects/{id}/statuses/{sha}` (GitLab, `PRIVATE-TOKEN`). A body without the
 * fields the forge requires gets 422, an unknown path 404.
 */
export async function startFakeForge(options: { token: string }): Promise<FakeForge> {
  const calls: ForgeCall[] = [];
  const attempts: ForgeCall[] = [];
  const forge = {
    calls,
    attempts,
    fault: undefined as 'unavailable' | undefined,
    token: options.token,
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      const path = req.url ?? '';
      const auth = header(req, 'private-token') ?? header(req, 'authorization');
      const call = { method: req.method ?? '', path, auth, body };
      attempts.push(call);
      const send = (status: number, payload: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (forge.fault === 'unavailable') {
        send(503, { message: 'unavailable' });
        return;
      }
      const route = routeOf(req.method ?? '', path);
      if (route === undefined) {
        send(404, { message: 'not found' });
        return;
      }
      const expected =
        route === 'gitlab'
          ? header(req, 'private-token')
          : /^(Bearer|token) (.*)$/.exec(header(req, 'authorization') ?? '')?.[2];
      if (expected !== forge.token) {
        send(401, { message: 'Bad credentials' });
        return;
      }
      const fields = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
      const states =
        route === 'gitlab'
          ? ['pending', 'running', 'success', 'failed', 'canceled']
          : ['pending', 'success', 'error', 'failure', ...(route === 'gitea' ? ['warning'] : [])];
      if (typeof fields['state'] !== 'string' || !states.includes(fields['state'])) {
        send(422, { message: 'invalid state' });
        return;
      }
      calls.push(call);
      send(201, { id: calls.length, ...fields });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return Object.assign(forge, {
    apiUrl: (kind: 'github' | 'gitea' | 'gitlab') =>
      kind === 'github' ? base : kind === 'gitea' ? `${base}/api/v1` : `${base}/api/v4`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  });
}

function routeOf(method: string, path: string): 'github' | 'gitea' | 'gitlab' | undefined {
  if (method !== 'POST') return undefined;
  if (/^\/api\/v1\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]{40}$/.test(path)) return 'gitea';
  if (/^\/api\/v4\/projects\/[^/]+\/statuses\/[0-9a-f]{40}$/.test(path)) return 'gitlab';
  if (/^\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]{40}$/.test(path)) return 'github';
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
