import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { after, before, test } from 'node:test';
import type { DesiredState } from '../../agent/core/desired.ts';
import { httpRequest } from '../../devenv/docker-env.ts';
import { makeStack, type Stack } from '../../devenv/engine-stack.ts';
import { waitFor } from '../../devenv/fleet.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';
import { startPebble, type Pebble } from '../../devenv/pebble.ts';

// The agent's ingress against a real ACME server: pebble on the docker0 address (the ingress
// container reaches it there), validating HTTP-01 on the ingress's published port.
let s: Stack;
let pebble: Pebble;
const ports = { http: 18580, https: 18543 };
const DOCKER_HOST_IP = '172.17.0.1';

before(async () => {
  s = await makeStack('ingress-acme');
  pebble = await startPebble({ httpPort: ports.http, port: 24100, host: DOCKER_HOST_IP });
});
after(async () => {
  await s.cleanup();
  await pebble.stop();
});

async function demo(name: string, directory: string): Promise<DesiredState> {
  return withIngress(s.desired(), {
    image: s.env.images['caddy:2.6'] ?? '',
    dataPath: path.join(s.stateDir, '..', 'data'),
    ports,
    names: [name],
    acme: { directory, email: 'ops@example.test', caRoot: await readFile(pebble.listenerCertFile, 'utf8') },
  });
}

function servedCertificate(name: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port: ports.https, servername: name, rejectUnauthorized: false },
      () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

test('the first apply gets its certificate from the ACME server, and HTTPS verifies against its root', async () => {
  const name = 'demo.example.test';
  const result = await s.apply(await demo(name, pebble.directory));
  assert.equal(result.applied, true, JSON.stringify(result.error));
  await waitFor('the certificate from pebble', 60_000, async () =>
    String((await servedCertificate(name).catch(() => undefined))?.issuer.CN).includes('Pebble'),
  );
  const res = await httpRequest(`https://127.0.0.1:${ports.https}/`, {
    headers: { Host: name },
    tls: { servername: name, ca: await pebble.issuingRoot() },
  });
  assert.equal(res.status, 200, res.body.toString());
  assert.match(res.body.toString(), /"version": ?"v1"/);
});

test('with the ACME server unreachable the name is served with the ingress own CA', async () => {
  const name = 'other.example.test';
  const result = await s.apply(await demo(name, `https://${DOCKER_HOST_IP}:1/dir`));
  assert.equal(result.applied, true, JSON.stringify(result.error));
  assert.deepEqual(
    result.plan.steps.map((st) => st.id),
    ['ingress.load:app'],
  );
  const cert = await waitFor('a certificate from the ingress own CA', 60_000, async () => {
    const c = await servedCertificate(name).catch(() => undefined);
    return c !== undefined && String(c.issuer.CN).includes('Caddy Local Authority') ? c : undefined;
  });
  assert.ok(cert.subjectaltname?.includes(`DNS:${name}`), cert.subjectaltname);
});
