import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ingressConfig, ingressFiles } from '../../agent/core/ingress-config.ts';
import { demoDesired } from '../../devenv/desired-builder.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function demo(caRoot?: string): ReturnType<typeof demoDesired> {
  return withIngress(
    demoDesired({ owner: 'acme', postgresImage: 'pg:1', webImage: 'web:1', password: 'pw', dataDir: '/srv/acme/pg' }),
    {
      image: 'caddy:2.6',
      dataPath: '/srv/acme',
      ports: { http: 80, https: 443 },
      acme: { directory: 'https://ca.internal/dir', ...(caRoot === undefined ? {} : { caRoot }) },
    },
  );
}

test("env.yml tls.acme.ca_root is written beside the configuration, and Caddy's ACME issuer trusts it", () => {
  const d = demo(PEM);
  assert.deepEqual(ingressFiles(d), { 'acme-ca-root.pem': PEM });
  const issuers = JSON.stringify(ingressConfig(d));
  assert.match(issuers, /"ca":"https:\/\/ca\.internal\/dir"/);
  assert.match(issuers, /"trusted_roots_pem_files":\["\/run\/caddy\/acme-ca-root\.pem"\]/);
});

test('without it the ACME server is trusted by the system roots alone', () => {
  const d = demo();
  assert.deepEqual(ingressFiles(d), {});
  assert.doesNotMatch(JSON.stringify(ingressConfig(d)), /trusted_roots_pem_files/);
});
