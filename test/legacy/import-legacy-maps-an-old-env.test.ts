import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { importLegacy, type LegacyImport } from '../../agent/legacy/import-legacy.ts';
import { parseLegacySettings } from '../../agent/legacy/settings.ts';
import { legacyBackupRepository, onCalendarToCron } from '../../agent/legacy/values.ts';
import { loadDesired } from '../../agent/config/load.ts';
import { fixturesDir, memoryRepo, plainDecrypt, readTree, repoRoot } from '../config/helpers.ts';

async function imported(): Promise<LegacyImport> {
  let n = 0;
  const text = await readFile(join(fixturesDir, 'legacy', 'ecs-env.yml'), 'utf8');
  const r = importLegacy(text, { generateSecret: () => `generated-secret-${++n}-abcdefgh` });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return r.value;
}

test('the imported files load with the example ECS app definition', async () => {
  const { env, appliance } = await imported();
  const example = await readTree(join(repoRoot, 'example-config-repo'));
  const files = new Map([...example].filter(([k]) => k.startsWith('apps/')));
  files.set('appliances/legacy/appliance.yml', stringify(appliance));
  files.set('appliances/legacy/env.yml', stringify(env));
  const r = await loadDesired(memoryRepo(files), 'legacy', { decrypt: plainDecrypt, revision: 'import' });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors, null, 1));
  assert.equal(r.value.site.domain, 'ecs.example-ec.org');
  assert.equal(r.value.site.tls.client_certs.mode, 'optional');
  assert.equal(r.value.site.backup?.repository, 'sftp:ecsbackup@backup.example-ec.org:/srv/backup/ecs');
  assert.deepEqual(r.value.policies.update_window, { days: ['sun'], start: '06:30', end: '08:30' });
  assert.equal(r.value.schedules.host_updates, '30 6 * * 0');
});

test('Python settings become settings and secrets; expressions are reported, not dropped', async () => {
  const { env, report } = await imported();
  const app = env['app'] as { settings: Record<string, unknown>; secrets: Record<string, string> };
  assert.equal(app.settings['DEBUG'], false);
  assert.equal(app.settings['ETHICS_COMMISSION_UUID'], 'ecececececececececececececececec');
  assert.equal(app.settings['ECS_USERSWITCHER_ENABLED'], false);
  assert.equal(app.secrets['SECRET_KEY'], 'fakeSecretKeyFakeSecretKeyFakeSecretKeyFakeSecr');
  assert.match(app.secrets['ECS_VAULT_SIGN'] ?? '', /BEGIN PGP PRIVATE KEY BLOCK/);
  assert.equal(app.secrets['DATABASE_PASSWORD'], 'generated-secret-2-abcdefgh');
  const keys = report.map((r) => r.key);
  for (const k of [
    'ecs.settings line 2 (ABSOLUTE_URL_PREFIX)',
    'ecs.settings line 18 (SMTPD_CONFIG)',
    'appliance.extra.states',
    'appliance.extra.packages',
    'appliance.backup.encrypt',
    'appliance.backup.options',
    'appliance.storage.setup',
    'appliance.git',
    'ecs.git',
    'disable_root',
  ]) {
    assert.ok(keys.includes(k), `report misses ${k}`);
  }
});

test('the report never repeats a secret value', async () => {
  const { env, report } = await imported();
  const app = env['app'] as { secrets: Record<string, string> };
  const text = JSON.stringify(report);
  for (const s of Object.values(app.secrets)) assert.ok(!text.includes(s));
  const skipped = parseLegacySettings("SECRET_KEY = 'abc' + OTHER\nEMAIL_HOST_PASSWORD = get('x')\n").skipped;
  assert.deepEqual(skipped, [
    { line: 1, name: 'SECRET_KEY', note: 'value is an expression, not a literal' },
    { line: 2, name: 'EMAIL_HOST_PASSWORD', note: 'value is an expression, not a literal' },
  ]);
});

test('extra files keep their mode, also when YAML 1.1 read it as an octal number', async () => {
  const { env } = await imported();
  assert.deepEqual(
    (env['extra_files'] as { path: string; mode: string }[]).map((f) => [f.path, f.mode]),
    [
      ['/root/.ssh/known_hosts', '0644'],
      ['/app/etc/hooks/prepare-ecs.late/notify.sh', '0755'],
    ],
  );
});

test('Python literals, comments and multi-line statements', () => {
  const r = parseLegacySettings(
    [
      "A = 'x' # comment",
      'B = "say \\"hi\\""',
      'C = 42',
      'D = True',
      'E = [',
      '    1,',
      ']',
      '# F = 1',
      "G = r'raw\\d'",
    ].join('\n'),
  );
  assert.deepEqual(r.settings, { A: 'x', B: 'say "hi"', C: 42, D: true, G: 'raw\\d' });
  assert.deepEqual(r.skipped, [{ line: 5, name: 'E', note: 'value is an expression, not a literal: E = [ 1, ]' }]);
});

test('old schedule and backup target translations', () => {
  assert.deepEqual(onCalendarToCron('Sun *-*-* 06:30:00'), {
    cron: '30 6 * * 0',
    days: ['sun'],
    start: '06:30',
    end: '08:30',
  });
  assert.deepEqual(onCalendarToCron('*-*-* 23:15'), {
    cron: '15 23 * * *',
    days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
    start: '23:15',
    end: '01:15',
  });
  assert.equal(onCalendarToCron('Mon..Fri *-*-* 05:00:00')?.cron, '0 5 * * 1,2,3,4,5');
  assert.equal(onCalendarToCron('weekly'), undefined);
  assert.equal(legacyBackupRepository('file:///volatile/ecs-backup-test/'), '/volatile/ecs-backup-test');
  assert.equal(legacyBackupRepository('sftp://u@h.example//srv/b'), 'sftp:u@h.example:/srv/b');
  assert.equal(legacyBackupRepository('scp://u@h.example/rel/path'), 'sftp:u@h.example:/rel/path');
  assert.equal(legacyBackupRepository('sftp://u:pw@h.example/b'), undefined);
  assert.equal(legacyBackupRepository('webdavs://h.example/b'), undefined);
});

test('an old file that is not YAML is an error, not a throw', () => {
  const r = importLegacy('appliance: [unclosed\n');
  assert.equal(r.ok, false);
  const r2 = importLegacy('#cloud-config\nappliance: {}\n');
  assert.deepEqual(!r2.ok && r2.errors, [
    { file: 'legacy env.yml', path: '/appliance/domain', message: 'missing required key' },
  ]);
});
