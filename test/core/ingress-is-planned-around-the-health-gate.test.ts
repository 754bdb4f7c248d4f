import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActualState } from '../../agent/core/actual.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import { ingressConfig, steadyConfig, upstreamAddresses } from '../../agent/core/ingress-config.ts';
import type { JsonObject } from '../../agent/core/json.ts';
import { plan } from '../../agent/core/plan.ts';
import { demoDesired, withDemoCommands } from '../../devenv/desired-builder.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';
import { applyAll, emptyMachine } from './fake-machine.ts';

const now = new Date('2026-01-01T00:00:00Z');
const specKey = 'k';
const V1 = `127.0.0.1:5000/demo@sha256:${'a1'.repeat(32)}`;
const V2 = `127.0.0.1:5000/demo@sha256:${'b2'.repeat(32)}`;

function demo(webImage = V1, env: Record<string, string> = {}): DesiredState {
  const d = demoDesired({
    owner: 'acme',
    postgresImage: `127.0.0.1:5000/postgres@sha256:${'1'.repeat(64)}`,
    webImage,
    password: 'pw',
    dataDir: '/srv/acme/postgresql',
    webEnv: env,
  });
  return withIngress(d, {
    image: `127.0.0.1:5000/caddy@sha256:${'c'.repeat(64)}`,
    dataPath: '/srv/acme',
    ports: { http: 80, https: 443 },
  });
}

/** The machine after `desired` was applied, its containers on addresses and the routes loaded. */
function applied(desired: DesiredState): ActualState {
  const m = applyAll(emptyMachine('acme'), plan(desired, emptyMachine('acme'), { now, specKey }).steps);
  m.containers.forEach((c, i) => {
    c.addresses = Object.fromEntries(c.networks.map((n) => [n, `10.0.0.${i + 2}`]));
  });
  const config = ingressConfig(desired, { dial: upstreamAddresses(desired, m.containers) });
  if (config !== undefined) m.ingress = { config };
  return m;
}

const ids = (d: DesiredState, a: ActualState): string[] => plan(d, a, { now, specKey }).steps.map((s) => s.id);

test('a first start shows the service page before web starts, and the routes come last', () => {
  const p = plan(demo(), emptyMachine('acme'), { now, specKey });
  const order = p.steps.map((s) => s.id);
  const page = order.indexOf('ingress.load:service');
  assert.ok(page >= 0 && page < order.indexOf('container.create:ingress'), order.join(' '));
  assert.ok(order.indexOf('container.create:ingress') < order.indexOf('container.create:web'), order.join(' '));
  assert.equal(order.at(-1), 'ingress.load:app');
  assert.deepEqual(p.steps.find((s) => s.id === 'ingress.load:service')?.args, { mode: 'service', reason: 'starting' });
  const ingress = p.steps.find((s) => s.id === 'container.create:ingress');
  assert.ok(ingress?.action === 'container.create');
  assert.deepEqual(
    ingress.args.spec.ports.map((x) => `${x.hostIp}:${x.host}`),
    ['127.0.0.1:80', '127.0.0.1:443'],
  );
  assert.deepEqual(ingress.args.spec.networks, ['acme-default'], 'only the open network web is on');
});

test('the routes dial the addresses of the running containers; the same document is nothing to do', () => {
  const m = applied(demo());
  assert.deepEqual(ids(demo(), m), []);
  const text = JSON.stringify(m.ingress?.config);
  assert.match(text, /"dial":"10\.0\.0\.\d+:8080"/);
  const moved = structuredClone(m);
  const web = moved.containers.find((c) => c.service === 'web');
  if (web?.addresses !== undefined) web.addresses['acme-default'] = '10.0.0.99';
  assert.deepEqual(ids(demo(), moved), ['ingress.load:app'], 'a container on a new address is routed again');
});

test('a non-migrating change of web replaces it beside the old one: no service page', () => {
  assert.deepEqual(ids(demo(V1, { DEMO_BANNER: 'x' }), applied(demo())), ['container.replace:web', 'ingress.load:app']);
});

test('a migrating update shows the page from before web stops until after it is replaced', () => {
  const m = applied(withDemoCommands(demo()));
  m.migration = { service: 'web', image: V2, status: 'pending', detail: ['002'], note: '', dataExists: true };
  m.storage = { driver: 'btrfs', root: '/srv/acme', snapshots: [], restored: [] };
  const p = plan(withDemoCommands(demo(V2)), m, { now, specKey });
  const order = p.steps.filter((s) => s.action !== 'image.pull').map((s) => s.id);
  assert.deepEqual(order, [
    'ingress.load:service',
    'container.stop:web',
    'snapshot.create:PRE_MIGRATE',
    'app.migrate:web',
    'container.replace:web',
    'ingress.load:app',
  ]);
  assert.deepEqual(p.steps.find((s) => s.id === 'ingress.load:service')?.args, {
    mode: 'service',
    reason: 'updating',
  });
});

test('while web fails its health check the ingress shows the stalled page, and the routes once it passes', () => {
  const m = applied(demo());
  const web = m.containers.find((c) => c.service === 'web');
  assert.ok(web !== undefined);
  web.health = 'unhealthy';
  assert.deepEqual(ids(demo(), m), ['ingress.load:app']);
  const page = JSON.stringify(steadyConfig(demo(), m.containers));
  assert.match(page, /"status_code":503/);
  assert.match(page, /stopped by a problem its operator has been told about \(HealthCheckFailed\)/);
  m.ingress = { config: JSON.parse(page) as JsonObject };
  assert.deepEqual(ids(demo(), m), [], 'the page stays while the check fails');
  web.health = 'healthy';
  assert.deepEqual(ids(demo(), m), ['ingress.load:app'], 'and goes when it passes');
});
