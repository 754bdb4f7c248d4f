import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesiredState } from '../../agent/core/desired.ts';
import { ingressInput } from '../../agent/core/ingress-config.ts';
import { demoDesired } from '../../devenv/desired-builder.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';

function demo(service?: { reason: 'manual'; message: string }): DesiredState {
  const d = withIngress(
    demoDesired({
      owner: 'acme',
      postgresImage: `127.0.0.1:5000/postgres@sha256:${'1'.repeat(64)}`,
      webImage: `127.0.0.1:5000/demo@sha256:${'a1'.repeat(32)}`,
      password: 'pw',
      dataDir: '/srv/acme/postgresql',
    }),
    { image: `127.0.0.1:5000/caddy@sha256:${'c'.repeat(64)}`, dataPath: '/srv/acme', ports: { http: 80, https: 443 } },
  );
  return service === undefined ? d : { ...d, app: { ...d.app, ingress: { ...d.app.ingress, service } } };
}

test("appliance.yml service_mode shows the operator's page instead of the routes, and over an update's page", () => {
  const plain = ingressInput(demo(), { dial: { web: '10.0.0.2' } });
  assert.equal(plain?.service, undefined, 'no service mode: the routes');

  const manual = demo({ reason: 'manual', message: 'Back at 14:00 after the disk swap.' });
  const steady = ingressInput(manual, { dial: { web: '10.0.0.2' } });
  assert.equal(steady?.service?.reason, 'manual');
  assert.equal(steady.service.message, 'Back at 14:00 after the disk swap.');

  const updating = ingressInput(manual, { situation: { kind: 'updating' } });
  assert.equal(updating?.service?.reason, 'manual', 'the operator chose what users read');

  const empty = ingressInput(demo({ reason: 'manual', message: ' ' }), {});
  assert.match(empty?.service?.message ?? '', /maintenance/);
});
