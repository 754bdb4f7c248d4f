import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cloneHost, cloneOwner, cloneSettings } from '../../agent/core/clone.ts';

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
