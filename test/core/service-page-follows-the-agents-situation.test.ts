import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDesired } from '../../agent/config/load.ts';
import { secretValues, type DesiredState } from '../../agent/core/desired.ts';
import { renderCaddyConfig, servicePageHtml, type IngressInput } from '../../agent/core/ingress-caddy.ts';
import { DEFAULT_MANUAL_MESSAGE, ingressService, type AgentSituation } from '../../agent/core/ingress-service.ts';
import { editYaml, fixtureRepo, memoryRepo, plainDecrypt } from '../config/helpers.ts';

const APPLIANCE = 'appliances/shop-prod/appliance.yml';

async function desired(serviceMode?: { enabled: boolean; message?: string }): Promise<DesiredState> {
  const files = editYaml(await fixtureRepo('basic'), APPLIANCE, (d) => {
    if (serviceMode !== undefined) d['service_mode'] = serviceMode;
  });
  const r = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 't' });
  if (!r.ok) assert.fail(JSON.stringify(r.errors));
  return r.value;
}

/** The whole proxy configuration for `service`: what a user could ever be shown. */
function rendered(service: IngressInput['service']): string {
  return JSON.stringify(
    renderCaddyConfig({
      names: ['shop.example.org'],
      routes: [{ path: '/', dial: 'web:8080', clientCerts: 'off' }],
      ...(service === undefined ? {} : { service }),
      tls: {},
      ports: { http: 80, https: 443 },
      maxBodyBytes: 1024,
      readTimeoutSeconds: 30,
      storageRoot: '/data/ingress',
      admin: 'localhost:2019',
    }),
  );
}

const SITUATIONS: [AgentSituation, string, RegExp][] = [
  [
    { kind: 'updating', step: 'migration' },
    'updating',
    /^An update is in progress \(the database is being migrated\)\.$/,
  ],
  [{ kind: 'updating', step: 'restart' }, 'updating', /^An update is in progress \(the service is restarting\)\.$/],
  [{ kind: 'updating' }, 'updating', /^An update is in progress\.$/],
  [{ kind: 'starting' }, 'starting', /starting for the first time/],
  [{ kind: 'recovering' }, 'recovering', /being recovered/],
  [{ kind: 'stalled', reason: 'HealthCheckFailed', message: 'x' }, 'stalled', /\(HealthCheckFailed\)\.$/],
  [{ kind: 'unconfigured' }, 'unconfigured', /not configured yet/],
];

test('the page gives the reason for each situation, and there is none while the app serves', async () => {
  const state = await desired();
  assert.equal(state.app.ingress.service, undefined);
  assert.equal(ingressService(state, { kind: 'serving' }), undefined);
  for (const [situation, reason, text] of SITUATIONS) {
    const service = ingressService(state, situation);
    assert.ok(service, situation.kind);
    assert.equal(service.reason, reason);
    assert.match(service.message, text);
    assert.ok(service.retryAfterSeconds > 0 && service.retryAfterSeconds <= 300);
  }
  assert.equal(ingressService(undefined, { kind: 'serving' })?.reason, 'unconfigured', 'no desired state yet');
});

test('manual service mode from appliance.yml wins over every situation and shows its message', async () => {
  const state = await desired({ enabled: true, message: '  Moving to a new server until 18:00.  ' });
  assert.deepEqual(state.app.ingress.service, { reason: 'manual', message: '  Moving to a new server until 18:00.  ' });
  for (const situation of [{ kind: 'serving' }, ...SITUATIONS.map(([s]) => s)] as AgentSituation[]) {
    assert.deepEqual(ingressService(state, situation), {
      reason: 'manual',
      message: 'Moving to a new server until 18:00.',
      retryAfterSeconds: 300,
    });
  }
  const bare = await desired({ enabled: true });
  assert.equal(ingressService(bare, { kind: 'serving' })?.message, DEFAULT_MANUAL_MESSAGE);
  const off = await desired({ enabled: false, message: 'not shown' });
  assert.equal(off.app.ingress.service, undefined);
  assert.equal(ingressService(off, { kind: 'serving' }), undefined);
});

test('a stall shows a short reason and never a secret, whatever the stall message quotes', async () => {
  const state = await desired();
  const secrets = secretValues(state);
  assert.ok(secrets.includes('db-password-fixture'));
  for (const secret of secrets) {
    for (const situation of [
      { kind: 'stalled', reason: 'MigrationFailed', message: `migrate exited 1: FATAL password "${secret}" rejected` },
      { kind: 'stalled', reason: `password ${secret}`, message: secret },
      { kind: 'stalled', reason: secret },
    ] as AgentSituation[]) {
      const service = ingressService(state, situation);
      assert.ok(service);
      assert.ok(service.message.length <= 120, service.message);
      const page = rendered(service) + servicePageHtml(service.message);
      assert.ok(!page.includes(secret), `the page holds a secret for ${JSON.stringify(situation.kind)}`);
    }
  }
  assert.match(
    ingressService(state, { kind: 'stalled', reason: 'MigrationFailed', message: 'db-password-fixture' })?.message ??
      '',
    /\(MigrationFailed\)/,
  );
  assert.doesNotMatch(ingressService(state, { kind: 'stalled', reason: 'not a code!' })?.message ?? '', /not a code/);
  const pascal = editYaml(await fixtureRepo('basic'), 'appliances/shop-prod/env.yml', (d) => {
    (d['app'] as { secrets: Record<string, string> }).secrets['SECRET_KEY'] = 'HunterTwo';
  });
  const r = await loadDesired(memoryRepo(pascal), 'shop-prod', { decrypt: plainDecrypt, revision: 't' });
  assert.ok(r.ok);
  const odd = ingressService(r.value, { kind: 'stalled', reason: 'HunterTwo' });
  assert.ok(odd && !odd.message.includes('HunterTwo'), 'a secret that looks like a reason code is not shown either');
});
