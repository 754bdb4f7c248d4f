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
import { readCertificates } from '../../agent/drivers/ingress/certificates.ts';

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

test('with the ACME server unreachable the name is served with the ingress own CA, and the status says why', async () => {
  const name = 'other.example.test';
  const desired = await demo(name, `https://${DOCKER_HOST_IP}:1/dir`);
  const result = await s.apply(desired);
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
  // /status lists the certificates as readCertificates gives them: the internal one says why.
  const storage = desired.app.ingress.proxy?.storageDir ?? '';
  const listed = await waitFor('the failed ACME order in the certificate list', 60_000, async () =>
    (await readCertificates(storage)).find((c) => c.names.includes(name) && c.acmeFailure !== undefined),
  ).catch(async (err: unknown) => {
    const log = await readFile(path.join(storage, 'acme.log'), 'utf8').catch(() => 'no acme.log');
    throw new Error(`${(err as Error).message}; Caddy's log: ${log.slice(-3000)}`);
  });
  assert.equal(listed.internal, true);
  assert.match(listed.acmeFailure?.error ?? '', /connection refused/);
  assert.match(listed.acmeFailure?.retry ?? '', /ACME is tried again when Caddy renews this certificate, by \S+Z/);
  const life = Date.parse(listed.notAfter) - Date.parse(listed.notBefore);
  assert.ok(life <= 3_600_000 + 60_000, `a short-lived fallback (${life} ms): ACME is retried within the hour`);
  const signed = (await readCertificates(storage)).filter((c) => c.names.includes('demo.example.test'));
  assert.ok(signed.length > 0 && signed.every((c) => c.acmeFailure === undefined), 'the name pebble signed has none');
});
