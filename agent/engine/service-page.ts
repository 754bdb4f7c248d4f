import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../lib/log.ts';

/** Why the appliance is in service mode instead of running its app. */
export interface ServiceReason {
  code: string;
  reason: string;
}

/**
 * The service page as a response. Kept apart from the server so the ingress can serve the same
 * page once it runs on 80/443.
 */
export function renderServicePage(why: ServiceReason): { status: number; contentType: string; body: string } {
  const title = why.code === 'NoConfiguration' ? 'no configuration' : 'service mode';
  const body = `<!doctype html>
<html><head><meta charset="utf-8"><title>appliance: ${escapeHtml(title)}</title></head>
<body><h1>appliance: ${escapeHtml(title)}</h1>
<p>${escapeHtml(why.reason)}</p>
<p>Code: <code>${escapeHtml(why.code)}</code>. The agent's log: <code>journalctl -u appliance-boot -u appliance-agent</code>.</p>
</body></html>
`;
  return { status: 503, contentType: 'text/html; charset=utf-8', body };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Serves the service page on every path, and `/status` as JSON `{ mode: 'service', code, reason }`. */
export async function startServicePage(
  why: ServiceReason,
  options: { listen: string; log: Logger },
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] === '/status') {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ mode: 'service', code: why.code, reason: why.reason })}\n`);
      return;
    }
    const page = renderServicePage(why);
    res.writeHead(page.status, { 'content-type': page.contentType, 'cache-control': 'no-store' });
    res.end(page.body);
  });
  const idx = options.listen.lastIndexOf(':');
  const host = options.listen.slice(0, idx).replace(/^\[|\]$/g, '');
  const port = Number(options.listen.slice(idx + 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/`;
  options.log.info({ url, code: why.code }, 'serving the service page');
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  };
}
