import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cloneDesired } from '../../agent/core/clone-state.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import { demoDesired, withDemoCommands } from '../../devenv/desired-builder.ts';

const dirs = { dataDir: '/d', volatileDir: '/v' };
const hosts = { production: ['demo.test', 'www.demo.test'], clone: 'qa.demo.test' };

function production(): DesiredState {
  const d = withDemoCommands(
    demoDesired({ owner: 'demo', postgresImage: 'pg', webImage: 'web:v1', password: 'pw', dataDir: '/data/pg' }),
  );
  const plain = (value: string): { value: string; secret: boolean } => ({ value, secret: false });
  const web = d.app.services.find((s) => s.name === 'web');
  assert.ok(web !== undefined);
  Object.assign(web.environment, {
    DEMO_DOMAIN: plain('demo.test'),
    ALLOWED_HOSTS: plain('demo.test,www.demo.test'),
    ABSOLUTE_URL_PREFIX: plain('https://demo.test/'),
    MAIL_HOST: plain('mail.demo.test'),
    ADMIN_EMAIL: plain('admin@demo.test'),
    OTHER: plain('demo.testing'),
    SIGNING_URL: { value: 'https://demo.test/?key=s3cret', secret: true },
  });
  return d;
}

test("production's host names in a clone's environment are the clone's host; other names stay", () => {
  const c = cloneDesired('demo', production(), 'qa', {}, dirs, hosts);
  const env = c.app.services.find((s) => s.name === 'web')?.environment ?? {};
  const values = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.value]));
  assert.equal(values['DEMO_DOMAIN'], 'qa.demo.test');
  assert.equal(values['ALLOWED_HOSTS'], 'qa.demo.test,qa.demo.test');
  assert.equal(values['ABSOLUTE_URL_PREFIX'], 'https://qa.demo.test/');
  assert.equal(values['MAIL_HOST'], 'mail.demo.test');
  assert.equal(values['ADMIN_EMAIL'], 'admin@demo.test');
  assert.equal(values['OTHER'], 'demo.testing');
  assert.equal(values['SIGNING_URL'], 'https://demo.test/?key=s3cret', 'secret values are not rewritten');
  assert.deepEqual(c.site.allowed_hosts, ['qa.demo.test']);
});

test("the clone's own settings win over the rewritten value, and without a host nothing is rewritten", () => {
  const c = cloneDesired('demo', production(), 'qa', { ALLOWED_HOSTS: '*' }, dirs, hosts);
  assert.equal(c.app.services.find((s) => s.name === 'web')?.environment['ALLOWED_HOSTS']?.value, '*');
  const pre = cloneDesired('demo', production(), 'pf', {}, dirs);
  assert.equal(pre.app.services.find((s) => s.name === 'web')?.environment['DEMO_DOMAIN']?.value, 'demo.test');
});
