import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ingressConfig, ingressInput } from '../../agent/core/ingress-config.ts';
import { withCloneSites, withoutCloneSites } from '../../agent/core/ingress-clones.ts';
import type { JsonObject } from '../../agent/core/json.ts';
import { demoDesired } from '../../devenv/desired-builder.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';

const prod = withIngress(
  demoDesired({ owner: 'demo', postgresImage: 'pg', webImage: 'web', password: 'pw', dataDir: '/data/pg' }),
  { image: 'caddy', dataPath: '/data', ports: { http: 80, https: 443 }, names: ['demo.example.org'] },
);
const sites = [
  {
    name: 'qa',
    host: 'qa.demo.example.org',
    routes: [{ path: '/', dial: '172.20.0.5:8080', clientCerts: 'off' as const }],
    page: '',
  },
  { name: 'new', host: 'new.demo.example.org', routes: [], page: 'The clone new is starting.' },
];

function servers(c: JsonObject): Record<string, { routes: JsonObject[] }> {
  return ((c['apps'] as JsonObject)['http'] as JsonObject)['servers'] as unknown as Record<
    string,
    { routes: JsonObject[] }
  >;
}

test("each clone's host gets its routes or its own page, and production's routes stay as they are", () => {
  const base = ingressConfig(prod) ?? {};
  const input = ingressInput(prod);
  assert.ok(input !== undefined);
  const over = withCloneSites(base, input, sites);
  const https = servers(over)['https']?.routes ?? [];
  const text = JSON.stringify(https);
  assert.ok(text.includes('172.20.0.5:8080'), 'the running clone is proxied to');
  assert.ok(text.includes('The clone new is starting.'), 'the starting clone shows its page');
  const own = https.filter((r) => !JSON.stringify(r['@id'] ?? '').startsWith('"clone:'));
  assert.deepEqual(own, servers(base)['https']?.routes, "production's routes are unchanged");
  const subjects = JSON.stringify((over['apps'] as JsonObject)['tls']);
  assert.ok(subjects.includes('qa.demo.example.org') && subjects.includes('demo.example.org'));
});

test('taking the clones off gives back exactly what production loaded (its plan compares that)', () => {
  const base = ingressConfig(prod) ?? {};
  const input = ingressInput(prod);
  assert.ok(input !== undefined);
  assert.deepEqual(withoutCloneSites(withCloneSites(base, input, sites)), base);
  const page = ingressConfig(prod, { service: { reason: 'updating' } }) ?? {};
  assert.deepEqual(withoutCloneSites(withCloneSites(page, input, sites)), page);
  assert.ok(
    JSON.stringify(withCloneSites(page, input, sites)).includes('172.20.0.5:8080'),
    'a clone stays up while production updates',
  );
});
