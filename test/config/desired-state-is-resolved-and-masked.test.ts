import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { loadDesired } from '../../agent/config/load.ts';
import { maskDesired, secretValues, type DesiredState } from '../../agent/core/desired.ts';
import { editYaml, fixtureRepo, memoryRepo, plainDecrypt } from './helpers.ts';
import { DUMP_DIR_TARGET } from '../../agent/config/resolve-dump-dir.ts';

async function load(files?: Map<string, string>): Promise<{ state: DesiredState; warnings: string[] }> {
  const r = await loadDesired(memoryRepo(files ?? (await fixtureRepo('basic'))), 'shop-prod', {
    decrypt: plainDecrypt,
    revision: '0123abc',
  });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return { state: r.value, warnings: r.warnings.map((w) => w.message) };
}

test('services come in start order: dependencies first', async () => {
  const { state } = await load();
  assert.deepEqual(
    state.app.services.map((s) => s.name),
    ['postgres', 'redis', 'web'],
  );
});

test('environment: appliance override > explicit entry > environment_from, references resolved', async () => {
  const files = editYaml(await fixtureRepo('basic'), 'appliances/shop-prod/appliance.yml', (d) => {
    (d['services'] as { web: { environment: Record<string, unknown> } }).web.environment['WORKERS'] = 8;
  });
  const { state } = await load(files);
  const web = state.app.services.find((s) => s.name === 'web');
  assert.ok(web);
  assert.deepEqual(web.environment['WORKERS'], { value: '8', secret: false });
  assert.deepEqual(web.environment['DEBUG'], { value: 'false', secret: false });
  assert.deepEqual(web.environment['SHOP_NAME'], { value: 'Example Shop', secret: false });
  assert.deepEqual(web.environment['ITEMS_PER_PAGE'], { value: '25', secret: false });
  assert.deepEqual(web.environment['SECRET_KEY'], { value: 'secret-key-fixture-0123456789', secret: true });
  assert.deepEqual(web.environment['SITE_DOMAIN'], { value: 'shop.example.org', secret: false });
  assert.deepEqual(web.environment['DATABASE_URL'], {
    value: 'postgres://shop:db-password-fixture@postgres:5432/shop',
    secret: true,
  });
  assert.deepEqual(Object.keys(web.environment), Object.keys(web.environment).sort());
});

test('images come from appliance.yml when pinned there, else from the app', async () => {
  const { state } = await load();
  const image = (n: string): string | undefined => state.app.services.find((s) => s.name === n)?.image;
  assert.match(image('web') ?? '', /@sha256:4f1e7c0a/);
  assert.equal(image('postgres'), '127.0.0.1:5000/postgres:15');
});

test('defaults are filled in and volumes get host paths', async () => {
  const { state } = await load();
  assert.equal(state.schedules.backup, '30 22 * * *');
  assert.equal(state.schedules.restore_test, null);
  assert.equal(state.policies.backup.keep_daily, 14);
  assert.equal(state.policies.snapshots.pre_migrate_expiry_days, 7);
  assert.equal(state.policies.backup.max_age_hours, 32);
  assert.equal(state.site.mail.relay?.port, 587);
  assert.deepEqual(
    state.app.volumes.map((v) => [v.name, v.hostPath, v.backup]),
    [
      ['cache', '/volatile/cache', false],
      ['pgdata', '/data/postgresql', false],
      ['uploads', '/data/uploads', true],
      // The backup's dump directory: on the data path, outside every volume, not backed up as files.
      ['appliance.backup-dump', '/data/.appliance-backup-dump', false],
    ],
  );
  const db = state.app.services.find((s) => s.name === state.app.database?.service);
  assert.ok(db?.mounts.some((m) => m.volume === 'appliance.backup-dump' && m.target === DUMP_DIR_TARGET));
  assert.deepEqual(state.app.database?.dumpDir, { hostPath: '/data/.appliance-backup-dump', target: DUMP_DIR_TARGET });
  assert.equal(state.app.commands.migration_status?.pendingExitCode, 3);
  assert.equal(state.app.commands.first_user?.timeoutSeconds, 60);
  assert.equal(state.app.commands.migrate?.timeoutSeconds, 600);
});

test('allowed_hosts defaults to the domain', async () => {
  const r = await loadDesired(memoryRepo(await fixtureRepo('basic')), 'shop-test', {
    decrypt: plainDecrypt,
    revision: 'x',
  });
  assert.ok(r.ok);
  assert.deepEqual(r.value.site.allowed_hosts, ['shop-test.example.org']);
  assert.deepEqual(r.value.app.ingress.serverNames, ['shop-test.example.org']);
  assert.deepEqual(
    r.warnings.map((w) => w.message),
    ['no backup section: this appliance is not backed up'],
  );
});

test('the masked view holds no secret value, and secretValues lists them all', async () => {
  const { state } = await load();
  const secrets = secretValues(state);
  const env = parse((await fixtureRepo('basic')).get('appliances/shop-prod/env.yml') ?? '') as {
    app: { secrets: Record<string, string> };
    backup: { password: string; repository: string };
    mail: { relay: { password: string } };
    first_user: { transport_password: string };
  };
  const expected = [
    ...Object.values(env.app.secrets),
    env.backup.password,
    env.backup.repository,
    env.mail.relay.password,
    env.first_user.transport_password,
    'postgres://shop:db-password-fixture@postgres:5432/shop',
  ];
  for (const s of expected) assert.ok(secrets.includes(s), `secretValues misses a value`);
  const shown = JSON.stringify(maskDesired(state));
  for (const s of secrets) assert.ok(!shown.includes(s), 'a secret value is visible in the masked view');
  assert.match(shown, /"password":"\*\*\*"/);
  assert.match(shown, /shop\.example\.org/);
});

test('key order in the files does not change the result', async () => {
  const files = await fixtureRepo('basic');
  const reordered = editYaml(files, 'appliances/shop-prod/env.yml', (d) => {
    const entries = Object.entries(d).reverse();
    for (const [k] of entries) Reflect.deleteProperty(d, k);
    for (const [k, v] of entries) d[k] = v;
  });
  const a = await load(files);
  const b = await load(reordered);
  assert.equal(JSON.stringify(b.state), JSON.stringify(a.state));
});
