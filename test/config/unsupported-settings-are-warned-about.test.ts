import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDesired } from '../../agent/config/load.ts';
import { renderApplianceYml } from '../../agent/provision/appliance-template.ts';
import { parseYamlObject } from '../../agent/config/parse-yaml.ts';
import { validateDocument } from '../../agent/config/schemas.ts';
import { checkAppliance } from '../../agent/config/site-rules.ts';
import type { AppDefinition } from '../../agent/core/config-types.gen.ts';
import { editYaml, fixtureRepo, memoryRepo, plainDecrypt } from './helpers.ts';

const FILE = 'appliances/shop-prod/appliance.yml';
const UNSUPPORTED = [
  '/agent/version',
  '/policies/reboot',
  '/policies/update_window',
  '/schedules/certificate_renewal',
  '/schedules/host_updates',
  '/schedules/session_cleanup',
  '/schedules/support_updates',
];

test('settings the agent does not support yet are warnings, not silently accepted', async () => {
  const files = editYaml(await fixtureRepo('basic'), FILE, (doc) => {
    doc['agent'] = { version: '0.1.0' };
    (doc['schedules'] as Record<string, unknown>)['host_updates'] = '30 6 * * sun';
    (doc['schedules'] as Record<string, unknown>)['support_updates'] = '45 6 * * sun';
    (doc['policies'] as Record<string, unknown>)['reboot'] = { mode: 'kernel-only' };
    (doc['schedules'] as Record<string, unknown>)['certificate_renewal'] = '15 3 * * *';
    (doc['schedules'] as Record<string, unknown>)['session_cleanup'] = '5 4 * * *';
    (doc['policies'] as Record<string, Record<string, unknown>>)['snapshots'] = { clone_expiry_days: 3 };
    (doc['policies'] as Record<string, unknown>)['update_window'] = { days: ['sun'], start: '06:30', end: '08:30' };
  });
  const result = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 'r1' });
  assert.ok(result.ok);
  const unsupported = result.warnings.filter((w) => w.message.startsWith('not supported yet'));
  assert.deepEqual(unsupported.map((w) => w.path).sort(), UNSUPPORTED);
  assert.ok(unsupported.every((w) => w.file === FILE));
});

test('without those settings, or with a job switched off (null), there is no warning', async () => {
  const files = editYaml(await fixtureRepo('basic'), FILE, (doc) => {
    (doc['schedules'] as Record<string, unknown>)['host_updates'] = null;
    (doc['schedules'] as Record<string, unknown>)['support_updates'] = null;
  });
  const result = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 'r1' });
  assert.ok(result.ok);
  assert.deepEqual(
    result.warnings.filter((w) => w.message.startsWith('not supported yet')),
    [],
  );
  // Nothing fills them in by default any more.
  assert.equal(result.value.agentVersion, undefined);
  assert.equal(result.value.policies.reboot, undefined);
});

test('config create writes none of them: its appliance.yml validates without warnings', () => {
  const app = {
    name: 'demo',
    services: { web: { image: '127.0.0.1:5000/demo:v1' } },
    commands: {},
  } as unknown as AppDefinition;
  const text = renderApplianceYml({
    name: 'demo',
    domain: 'demo.example.org',
    appPath: 'apps/demo/app.yml',
    app,
    timezone: 'UTC',
  });
  const parsed = parseYamlObject(text, 'appliance.yml');
  assert.ok(parsed.ok);
  const valid = validateDocument('appliance', parsed.value, 'appliance.yml');
  assert.ok(valid.ok, JSON.stringify(valid));
  assert.deepEqual(checkAppliance(valid.value, 'appliance.yml').warnings, []);
  assert.doesNotMatch(text, /host_updates|support_updates|reboot|^agent:/m);
  assert.match(text, /health_timeout_seconds: 300/);
});

test('clones resolve with their expiry (expires_after, else clone_expiry_days) and the app clone settings under theirs', async () => {
  const files = editYaml(await fixtureRepo('basic'), FILE, (doc) => {
    (doc['policies'] as Record<string, Record<string, unknown>>)['snapshots'] = { clone_expiry_days: 2 };
    doc['clones'] = [{ name: 'qa', expires_after: '90m', settings: { SHOP_NAME: 'QA shop' } }, { name: 'demo' }];
  });
  const result = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 'r1' });
  assert.ok(result.ok);
  assert.deepEqual(result.warnings, []);
  const app = result.value.app.cloneSettings;
  assert.deepEqual(result.value.clones, [
    { name: 'qa', expiresAfterMs: 90 * 60_000, settings: { ...app, SHOP_NAME: 'QA shop' } },
    { name: 'demo', expiresAfterMs: 2 * 86_400_000, settings: app },
  ]);
});
