import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cron } from 'croner';
import { parse } from 'yaml';
import { validateDocument } from '../../agent/config/schemas.ts';
import { checkAppliance } from '../../agent/config/site-rules.ts';
import type { ApplianceConfig } from '../../agent/core/config-types.gen.ts';
import { cronZone } from '../../agent/core/cron.ts';
import type { JsonObject } from '../../agent/core/json.ts';
import { fixtureRepo } from './helpers.ts';

async function appliance(timezone: string): Promise<ApplianceConfig> {
  const files = await fixtureRepo('basic');
  const doc = parse(files.get('appliances/shop-prod/appliance.yml') ?? '') as JsonObject;
  doc['timezone'] = timezone;
  const valid = validateDocument('appliance', doc, 'appliance.yml');
  assert.ok(valid.ok, timezone);
  return valid.value;
}

test('canonical zones, UTC and aliases are time zones; anything else is reported', async () => {
  for (const tz of ['UTC', 'Etc/UTC', 'Europe/Vienna', 'America/Argentina/Buenos_Aires', 'US/Pacific']) {
    assert.deepEqual(checkAppliance(await appliance(tz), 'a.yml').errors, [], tz);
  }
  for (const tz of ['Nowhere/Nothing', 'Europe/Atlantis', 'Mars/Olympus_Mons']) {
    const { errors } = checkAppliance(await appliance(tz), 'a.yml');
    assert.deepEqual(
      errors.map((e) => e.path),
      ['/timezone'],
      tz,
    );
  }
});

test('a cron in UTC runs at the same times with the fixed offset as with the zone name', () => {
  assert.deepEqual(cronZone('UTC'), { utcOffset: 0 });
  assert.deepEqual(cronZone('Europe/Vienna'), { timezone: 'Europe/Vienna' });
  for (const pattern of ['0 * * * *', '30 2 * * 0', '0 0 29 2 *']) {
    for (const from of ['2026-03-29T00:30:00Z', '2026-10-25T23:59:59Z', '2027-12-31T23:00:00Z']) {
      const byName = new Cron(pattern, { paused: true, timezone: 'UTC' }).nextRuns(3, new Date(from));
      const byOffset = new Cron(pattern, { paused: true, ...cronZone('UTC') }).nextRuns(3, new Date(from));
      assert.deepEqual(
        byOffset.map((d) => d.toISOString()),
        byName.map((d) => d.toISOString()),
        `${pattern} from ${from}`,
      );
    }
  }
});
