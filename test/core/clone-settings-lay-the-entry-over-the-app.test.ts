import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cloneHost, cloneOwner, cloneSettings } from '../../agent/core/clone.ts';
import { initialStatus, withClones } from '../../agent/core/status.ts';

test("a clone's settings are the app's clone.settings with the entry's settings on top, as text", () => {
  const got = cloneSettings(
    { MAIL_BACKEND: 'console', DEMO_BANNER: 'CLONE' },
    { DEMO_BANNER: 'review', USER_SWITCHER: true, N: 3 },
  );
  assert.deepEqual(got, { MAIL_BACKEND: 'console', DEMO_BANNER: 'review', USER_SWITCHER: 'true', N: '3' });
});

test("a clone's stack and host are named after the appliance and the clone", () => {
  assert.equal(cloneOwner('demo', 'qa'), 'demo-qa');
  assert.equal(cloneHost('qa', 'demo.example.org'), 'qa.demo.example.org');
});

test('/status lists the clones with host, times, state and reason; none: no clones key', () => {
  const status = initialStatus('demo', new Date('2026-12-05T00:00:00Z'));
  assert.equal(withClones(status, []), status);
  const refused = {
    name: 'qa',
    purpose: 'clone' as const,
    state: 'refused' as const,
    host: 'qa.demo.example.org',
    expiresAt: '2026-12-08T00:00:00.000Z',
    reason: { code: 'CloneNoSpace', message: 'clone qa refused: 10 MiB free on /data, clones need at least 1024 MiB' },
  };
  assert.deepEqual(withClones(status, [refused]).clones, [refused]);
});
