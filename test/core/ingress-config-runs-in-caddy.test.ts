import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { renderCaddyConfig, type IngressInput } from '../../agent/core/ingress-caddy.ts';
import { run } from '../../agent/lib/exec.ts';

// The rendered configuration, loaded into Debian's caddy: what a browser and the app see.
let dir: string;
let caddy: ChildProcess;
let upstream: http.Server;
let input: IngressInput;
const ports = { http: 28080, https: 28443 };
const admin = 'localhost:22019';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ingress-caddy-'));
  const ssl = (args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  await ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=env CA', '-days', '2']); // prettier-ignore
  await ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'cl.key', '-out', 'cl.csr', '-subj', '/CN=client']); // prettier-ignore
  await ssl(['x509', '-req', '-in', 'cl.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cl.pem', '-days', '1']); // prettier-ignore
  upstream = http.createServer((req, res) => {
    res.end(`verify=${String(req.headers['x-ssl-client-verify'])} path=${req.url ?? ''}`);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const dial = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  input = {
    names: ['localhost'],
    routes: [
      { path: '/', dial, clientCerts: 'off' },
      { path: '/admin/', dial, clientCerts: 'require' },
      { path: '/api', dial, clientCerts: 'optional' },
    ],
    tls: {},
    clientCa: await readFile(join(dir, 'ca.pem'), 'utf8'),
    hsts: { maxAgeSeconds: 600, includeSubdomains: false },
    ports,
    maxBodyBytes: 1024,
    readTimeoutSeconds: 30,
    storageRoot: join(dir, 'storage'),
    admin,
  };
  await writeFile(join(dir, 'caddy.json'), JSON.stringify(renderCaddyConfig(input)));
  caddy = spawn('caddy', ['run', '--config', join(dir, 'caddy.json')], { stdio: 'ignore' });
  await waitUntil(async () => (await get(`https://localhost:${ports.https}/`)).status === 200);
});

after(async () => {
  caddy.kill('SIGTERM');
  upstream.close();
  await rm(dir, { recursive: true, force: true });
});

test('HTTP redirects to HTTPS, which proxies to the upstream with security headers', async () => {
  const redirect = await get(`http://localhost:${ports.http}/x?y=1`);
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers['location'], `https://localhost:${ports.https}/x?y=1`);
  const page = await get(`https://localhost:${ports.https}/`);
  assert.equal(page.body, 'verify=NONE path=/');
  assert.equal(page.headers['strict-transport-security'], 'max-age=600');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  const trusted = await readdir('/usr/local/share/ca-certificates').catch(() => []);
  assert.deepEqual(
    trusted.filter((f) => f.startsWith('Caddy')),
    [],
    "the internal CA's root is not added to the host's trust",
  );
});

test('a require route refuses a request without a client certificate and takes one signed by the env CA', async () => {
  assert.equal((await get(`https://localhost:${ports.https}/admin/x`)).status, 403);
  const cert = { cert: await readFile(join(dir, 'cl.pem')), key: await readFile(join(dir, 'cl.key')) };
  const ok = await get(`https://localhost:${ports.https}/admin/x`, cert);
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'verify=SUCCESS path=/admin/x');
});

test('an optional route passes the result on, and a client cannot forge it', async () => {
  const forged = await get(`https://localhost:${ports.https}/api/x`, {}, { 'X-Ssl-Client-Verify': 'SUCCESS' });
  assert.equal(forged.body, 'verify=NONE path=/api/x');
});

test('service mode answers 503 on every name and path, on HTTP too, with the escaped reason', async () => {
  const config = renderCaddyConfig({
    ...input,
    service: { reason: 'updating', message: 'Update to v2 <in progress>', retryAfterSeconds: 30 },
  });
  await load(config);
  for (const url of [`https://localhost:${ports.https}/`, `http://localhost:${ports.http}/admin/x`]) {
    const page = await get(url);
    assert.equal(page.status, 503, url);
    assert.equal(page.headers['retry-after'], '30');
    assert.match(page.body, /<p id="reason">Update to v2 &#60;in progress&#62;<\/p>/);
  }
  await load(renderCaddyConfig(input));
  assert.equal((await get(`https://localhost:${ports.https}/`)).status, 200, 'the page is gone with the mode');
});

async function load(config: unknown): Promise<void> {
  const res = await request(`http://${admin}/load`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(config),
  });
  assert.equal(res.status, 200, res.body);
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(url: string, tls: https.RequestOptions = {}, headers: Record<string, string> = {}): Promise<Answer> {
  return request(url, { ...tls, headers, rejectUnauthorized: false });
}

function request(url: string, options: https.RequestOptions & { body?: string } = {}): Promise<Answer> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { ...options, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error('caddy did not come up');
    await new Promise((r) => setTimeout(r, 200));
  }
}
