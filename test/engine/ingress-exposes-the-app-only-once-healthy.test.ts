import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DesiredState } from '../../agent/core/desired.ts';
import { run } from '../../agent/lib/exec.ts';
import { httpRequest, type HttpAnswer } from '../../devenv/docker-env.ts';
import { makeStack, withDemoCommands, type Stack } from '../../devenv/engine-stack.ts';
import { withIngress, type IngressInput } from '../../devenv/ingress-builder.ts';
import { keepAliveLoop, requestLoop, type LoopResult } from '../../devenv/request-loop.ts';

// One appliance for the file: the demo app behind the agent's Caddy, each test the next change.
// Users reach web only through the ingress (web publishes no port).
let s: Stack;
const ports = { http: 18480, https: 18443 };
const base = `https://127.0.0.1:${ports.https}`;
const host = 'localhost';

before(async () => {
  s = await makeStack('ingress-gate', { seedSchema: false });
});
after(async () => {
  await s.cleanup();
});

function demo(
  version: string,
  env: Record<string, string> = {},
  tls: Pick<IngressInput, 'routes' | 'clientCa'> = {},
): DesiredState {
  const d = withDemoCommands(s.desired({ webImage: s.env.images[`demo:${version}`] ?? '', webEnv: env }));
  return withIngress(d, {
    image: s.env.images['caddy:2.6'] ?? '',
    dataPath: path.join(s.stateDir, '..', 'data'),
    ports,
    ...tls,
  });
}

const get = (p: string, method = 'GET'): Promise<HttpAnswer> =>
  httpRequest(`${base}${p}`, { method, headers: { Host: host }, tls: { servername: host } });

async function rows(): Promise<number> {
  const res = await get('/');
  assert.equal(res.status, 200, res.body.toString());
  return (JSON.parse(res.body.toString()) as { rows: number }).rows;
}

function isServicePage(r: LoopResult, reason: RegExp): boolean {
  return (
    'answer' in r &&
    r.answer.status === 503 &&
    r.answer.headers['retry-after'] === '30' &&
    reason.test(r.answer.body.toString())
  );
}

function summary(results: readonly LoopResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    const key = 'error' in r ? `error ${r.error}` : String(r.answer.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return JSON.stringify([...counts]);
}

test('first apply: the service page until web passed its health gate, then the app over HTTPS only', async () => {
  const loop = requestLoop(`${base}/`, { servername: host, pauseMs: 100 });
  const result = await s.apply(demo('v1'));
  const seen = await loop.stop();
  assert.equal(result.applied, true, JSON.stringify(result.error));
  const ids = result.plan.steps.map((st) => st.id);
  assert.ok(ids.indexOf('ingress.load:service') < ids.indexOf('container.create:web'), ids.join(' '));
  assert.equal(ids.at(-1), 'ingress.load:app', 'the routes are loaded last');
  const answers = seen.filter((r): r is Extract<LoopResult, { answer: HttpAnswer }> => 'answer' in r);
  assert.ok(
    answers.some((r) => isServicePage(r, /The service is starting for the first time\./)),
    summary(seen),
  );
  assert.ok(
    answers.every((r) => r.answer.status === 503 || r.answer.status === 200),
    `only the page or the healthy app: ${summary(seen)}`,
  );
  assert.deepEqual(JSON.parse((await get('/')).body.toString()), { version: 'v1', rows: 0 });
  const redirect = await httpRequest(`http://127.0.0.1:${ports.http}/x`, { headers: { Host: host } });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers['location'], `https://${host}:${ports.https}/x`);
  const again = await s.apply(demo('v1'));
  assert.deepEqual(again.plan.steps, [], 'an unchanged configuration is nothing to do');
});

test('a non-migrating update starts web beside the old one and switches: no request fails', async (t) => {
  const before = await rows();
  const loop = requestLoop(`${base}/rows`, { method: 'POST', servername: host });
  // Clients that keep their connection: HTTP/2 (browsers over HTTPS) and HTTP/1.1 keep-alive.
  const h2 = keepAliveLoop(`${base}/`, { servername: host, http2: true });
  const h1 = keepAliveLoop(`${base}/`, { servername: host });
  const result = await s.apply(demo('v1', { DEMO_BANNER: 'switched' }));
  const seen = await loop.stop();
  const kept = { h2: await h2.stop(), h1: await h1.stop() };
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.ok(!result.plan.steps.some((st) => st.id === 'ingress.load:service'), 'no service page');
  const failed = seen.filter((r) => !('answer' in r) || r.answer.status !== 201);
  assert.deepEqual(failed.length, 0, summary(seen));
  assert.equal(await rows(), before + seen.length, 'every acknowledged write is there');
  // A request that crossed Caddy's GOAWAY is refused unprocessed and sent again, as browsers do.
  const h2Failed = kept.h2.filter((r) => !('answer' in r) || r.answer.status !== 200);
  assert.equal(h2Failed.length, 0, `HTTP/2 keep-alive: ${summary(kept.h2)}`);
  t.diagnostic(`HTTP/2 keep-alive: ${kept.h2.filter((r) => 'refused' in r).length} refused and sent again`);
  // Caddy closes idle HTTP/1.1 connections when it loads a configuration (its grace_period
  // only waits for active ones): a request sent on one at that instant is reset. Never an error
  // status; see README "Keep-alive clients and the switch".
  t.diagnostic(`HTTP/1.1 keep-alive: ${summary(kept.h1)}`);
  assert.ok(
    kept.h1.every(
      (r) => ('answer' in r && r.answer.status === 200) || ('error' in r && /socket hang up|ECONNRESET/.test(r.error)),
    ),
    summary(kept.h1),
  );
});

test('a migrating update (v1 → v2): every failed request is the service page, never a connection error', async () => {
  const before = await rows();
  const loop = requestLoop(`${base}/rows`, { method: 'POST', servername: host });
  const result = await s.apply(demo('v2'));
  const seen = await loop.stop();
  assert.equal(result.applied, true, JSON.stringify(result.error));
  const failed = seen.filter((r) => !('answer' in r) || r.answer.status !== 201);
  assert.ok(failed.length > 0, 'the page was shown');
  assert.ok(
    failed.every((r) => isServicePage(r, /An update is in progress\./)),
    summary(seen),
  );
  assert.equal(await rows(), before + seen.length - failed.length);
});

test('v2 → v4 fails its health gate before it takes traffic: every acknowledged write is kept', async () => {
  const before = await rows();
  const loop = requestLoop(`${base}/rows`, { method: 'POST', servername: host });
  const result = await s.apply(demo('v4'));
  // Writes after the rollback count too: v2 is back.
  await new Promise((r) => setTimeout(r, 1_000));
  const seen = await loop.stop();
  assert.equal(result.applied, false, 'v4 is rolled back');
  const acked = seen.filter((r) => 'answer' in r && r.answer.status === 201);
  for (const r of acked) {
    assert.equal(
      (JSON.parse((r as { answer: HttpAnswer }).answer.body.toString()) as { version: string }).version,
      'v2',
    );
  }
  assert.ok(
    seen.every((r) => ('answer' in r && r.answer.status === 201) || isServicePage(r, /An update is in progress\./)),
    summary(seen),
  );
  assert.equal(await rows(), before + acked.length, 'no acknowledged write was lost');
  assert.equal((JSON.parse((await get('/')).body.toString()) as { version: string }).version, 'v2');
});

test("a route that requires client certificates refuses a request without one and takes one signed by the env's CA", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ingress-client-'));
  const ssl = (args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  await ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=env CA', '-days', '2']); // prettier-ignore
  await ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'cl.key', '-out', 'cl.csr', '-subj', '/CN=client']); // prettier-ignore
  await ssl(['x509', '-req', '-in', 'cl.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cl.pem', '-days', '1']); // prettier-ignore
  const tls = {
    clientCa: await readFile(path.join(dir, 'ca.pem'), 'utf8'),
    routes: [
      { path: '/', service: 'web', port: 8080, clientCerts: 'off' as const },
      { path: '/admin/', service: 'web', port: 8080, clientCerts: 'require' as const },
    ],
  };
  const result = await s.apply(demo('v2', {}, tls));
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.deepEqual(
    result.plan.steps.map((st) => st.id),
    ['ingress.load:app'],
    'a route change is one load, nothing restarts',
  );
  const refused = await get('/admin/x');
  assert.equal(refused.status, 403);
  const cert = { cert: await readFile(path.join(dir, 'cl.pem')), key: await readFile(path.join(dir, 'cl.key')) };
  const taken = await httpRequest(`${base}/admin/x`, { headers: { Host: host }, tls: { servername: host, ...cert } });
  assert.equal(taken.status, 404, 'the app answered (it has no /admin/x)');
  assert.match(taken.body.toString(), /not found/);
  assert.equal((await get('/')).status, 200, 'other paths need no certificate');
  await rm(dir, { recursive: true, force: true });
});
