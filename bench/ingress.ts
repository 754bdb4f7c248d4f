import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { renderCaddyConfig, type IngressInput } from '../agent/core/ingress-caddy.ts';
import { docker, ensureEnv, publishedPort, removeLabelled, TEST_LABEL, type EnvInfo } from '../devenv/docker-env.ts';
import { uniqueName } from '../devenv/fleet-helpers.ts';
import { startPebble } from '../devenv/pebble.ts';
import { updateFailures } from './ingress-update.ts';
import { median, target } from './lib/targets.ts';

/**
 * The ingress (Caddy in its container, configuration from renderCaddyConfig, HTTPS with keep-alive)
 * against the demo app's container reached directly: p50/p99 latency of sequential requests and
 * requests/s at `--concurrency N` (default 8), `--requests N` (default 1000) per side; then the
 * seconds from loading an ACME configuration to Caddy serving pebble's certificate (`--orders N`,
 * default 3); then the failed requests during non-migrating updates (`--updates N`, default 3,
 * see ingress-update.ts). Run under flock /tmp/appliance-docker.lock.
 */
export default async function ingressBench(args: string[]): Promise<void> {
  const requests = numberArg(args, '--requests', 1000);
  const concurrency = numberArg(args, '--concurrency', 8);
  const orders = numberArg(args, '--orders', 3);
  const env = await ensureEnv();
  const label = uniqueName('bench-ingress');
  const dir = await mkdtemp(join(tmpdir(), 'bench-ingress-'));
  try {
    await proxyOverhead(env, label, dir, requests, concurrency);
    await acmeTime(env, label, dir, orders);
    await updateFailures(numberArg(args, '--updates', 3));
  } finally {
    await removeLabelled(env, label);
    await rm(dir, { recursive: true, force: true });
  }
}

const NAME = 'bench.example.test';
// The app's answer to an unknown path: no database behind it, so the difference is the proxy.
const PATH = '/bench';

async function proxyOverhead(env: EnvInfo, label: string, dir: string, requests: number, concurrency: number) {
  const tag = ['--label', `${TEST_LABEL}=${label}`];
  const network = `${label}-net`;
  const app = `${label}-app`;
  const proxy = `${label}-caddy`;
  await docker(env, ['network', 'create', ...tag, network]);
  const demo = env.imageDetails['demo:v1']?.local ?? 'appliance-test/demo:v1';
  await docker(env, ['run', '-d', ...tag, '--name', app, '--network', network, '-p', '127.0.0.1::8080', demo]);
  const input: IngressInput = {
    names: [NAME],
    routes: [{ path: '/', dial: `${app}:8080`, clientCerts: 'off' }],
    tls: {},
    ports: { http: 80, https: 443 },
    maxBodyBytes: 150 * 1024 * 1024,
    readTimeoutSeconds: 300,
    storageRoot: '/data',
    admin: 'localhost:2019',
  };
  await writeFile(join(dir, 'caddy.json'), JSON.stringify(renderCaddyConfig(input)));
  await chmod(dir, 0o755);
  const caddyImage = env.imageDetails['caddy:2.6']?.local ?? 'appliance-test/caddy:2.6';
  await docker(env, [
    'run', '-d', ...tag, '--name', proxy, '--network', network, '-p', '127.0.0.1::443',
    '-v', `${join(dir, 'caddy.json')}:/etc/caddy/caddy.json:ro`, caddyImage,
  ]); // prettier-ignore
  const appPort = await publishedPort(env, app, 8080);
  const proxyPort = await publishedPort(env, proxy, 443);

  const plain = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const tls = new https.Agent({
    keepAlive: true,
    maxSockets: concurrency,
    rejectUnauthorized: false,
    servername: NAME,
  });
  const direct = (): Promise<number> => get(http, plain, `http://127.0.0.1:${appPort}${PATH}`);
  const ingress = (): Promise<number> => get(https, tls, `https://127.0.0.1:${proxyPort}${PATH}`, NAME);
  await until('the app answers', async () => (await direct()) === 404);
  await until('caddy proxies to it over HTTPS', async () => (await ingress()) === 404);
  for (let i = 0; i < 50; i++) await Promise.all([direct(), ingress()]); // warm-up

  // Sequential latency, the two sides interleaved in blocks so a busy moment of the shared
  // machine falls on both.
  const lat = { direct: [] as number[], ingress: [] as number[] };
  const block = 100;
  for (let done = 0; done < requests; done += block) {
    lat.direct.push(...(await timed(direct, Math.min(block, requests - done))));
    lat.ingress.push(...(await timed(ingress, Math.min(block, requests - done))));
  }
  const rps = { direct: await throughput(direct, concurrency), ingress: await throughput(ingress, concurrency) };
  plain.destroy();
  tls.destroy();

  const row = (side: 'direct' | 'ingress', what: string): string =>
    `  ${what.padEnd(32)} p50 ${ms(pct(lat[side], 50))}  p99 ${ms(pct(lat[side], 99))}  ${rps[side].toFixed(0)} req/s`;
  console.log(
    `\nGET ${PATH} on the demo app: ${requests} sequential requests per side, then ${concurrency} at a time for 5 s`,
  );
  console.log(row('direct', 'direct (HTTP, published port)'));
  console.log(row('ingress', 'ingress (Caddy container, HTTPS)'));
  console.log('  (the demo app answers HTTP/1.0 and closes each connection; the client keeps its own alive)');
  const overhead = pct(lat.ingress, 50) - pct(lat.direct, 50);
  console.log(`  requests/s through the ingress: ${((rps.ingress / rps.direct) * 100).toFixed(0)}% of direct`);
  target('ingress p50 overhead', `${overhead.toFixed(2)} ms`, '≤ 1 ms', overhead <= 1);
}

/**
 * Seconds from loading a configuration that asks pebble for a name to Caddy serving pebble's
 * certificate for it. Caddy runs in its container on the host's network, so pebble (on
 * loopback) reaches it for HTTP-01 and it reaches pebble.
 */
async function acmeTime(env: EnvInfo, label: string, dir: string, orders: number): Promise<void> {
  const ports = { http: 32080, https: 32443 };
  const admin = 'localhost:32019';
  const pebble = await startPebble({ httpPort: ports.http, port: 24200 });
  const times: number[] = [];
  try {
    await writeFile(join(dir, 'idle.json'), JSON.stringify({ admin: { listen: admin } }));
    await chmod(join(dir, 'idle.json'), 0o644);
    await docker(env, [
      'run', '-d', '--label', `${TEST_LABEL}=${label}`, '--name', `${label}-acme`, '--network', 'host',
      '-v', `${join(dir, 'idle.json')}:/etc/caddy/caddy.json:ro`,
      '-v', `${pebble.listenerCertFile}:/pebble.pem:ro`,
      env.imageDetails['caddy:2.6']?.local ?? 'appliance-test/caddy:2.6',
    ]); // prettier-ignore
    await until('caddy admin', async () => (await fetch(`http://${admin}/config/`)).ok);
    for (let i = 0; i < orders; i++) {
      const name = `order${i}.example.test`;
      const config = renderCaddyConfig({
        names: [name],
        routes: [{ path: '/', dial: '127.0.0.1:9', clientCerts: 'off' }],
        tls: { acme: { directory: pebble.directory, email: 'ops@example.test', trustedRootFiles: ['/pebble.pem'] } },
        ports,
        maxBodyBytes: 1024,
        readTimeoutSeconds: 30,
        storageRoot: '/data',
        admin,
      });
      const start = performance.now();
      const res = await fetch(`http://${admin}/load`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(config),
      });
      if (!res.ok) throw new Error(`caddy refused the configuration: ${await res.text()}`);
      await until(`pebble's certificate for ${name}`, async () =>
        (await servedIssuer(ports.https, name)).includes('Pebble'),
      );
      times.push((performance.now() - start) / 1000);
    }
  } finally {
    await pebble.stop();
  }
  console.log(
    `\nACME order → certificate served (pebble, HTTP-01, no validation sleep): ${times.map((t) => t.toFixed(2)).join(', ')} s`,
  );
  console.log(`  median ${median(times).toFixed(2)} s`);
}

function get(mod: typeof http | typeof https, agent: http.Agent, url: string, servername?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = mod.get(
      url,
      { agent, ...(servername === undefined ? {} : { servername, headers: { Host: servername } }) },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
  });
}

async function timed(request: () => Promise<number>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if ((await request()) !== 404) throw new Error('unexpected answer');
    out.push(performance.now() - t);
  }
  return out;
}

async function throughput(request: () => Promise<number>, concurrency: number, seconds = 5): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await request();
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - start) / 1000);
}

function servedIssuer(port: number, name: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: name, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(String(cert.issuer.CN));
    });
    socket.on('error', () => {
      resolve('');
    });
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pct(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function ms(value: number): string {
  return `${value.toFixed(2)} ms`.padStart(9);
}

function numberArg(args: string[], flag: string, fallback: number): number {
  const i = args.indexOf(flag);
  const v = i === -1 ? NaN : Number(args[i + 1]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
