import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { after, before, test } from 'node:test';
import { renderCaddyConfig, type IngressInput } from '../../agent/core/ingress-caddy.ts';
import { startPebble, type Pebble } from '../../devenv/pebble.ts';

// Caddy with the rendered configuration against a real ACME server (pebble), and against none.
const ports = { http: 29080, https: 29443 };
const name = 'demo.example.test';
let dir: string;
let pebble: Pebble;
let upstream: http.Server;
let caddy: ChildProcess | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ingress-acme-'));
  pebble = await startPebble({ httpPort: ports.http });
  upstream = http.createServer((_req, res) => res.end('app'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  caddy?.kill('SIGTERM');
  upstream.close();
  await pebble.stop();
  await rm(dir, { recursive: true, force: true });
});

function input(acme: IngressInput['tls']['acme'], storage: string): IngressInput {
  return {
    names: [name],
    routes: [{ path: '/', dial: `127.0.0.1:${(upstream.address() as AddressInfo).port}`, clientCerts: 'off' }],
    tls: acme === undefined ? {} : { acme },
    ports,
    maxBodyBytes: 1024,
    readTimeoutSeconds: 30,
    storageRoot: join(dir, storage),
    admin: 'localhost:29019',
  };
}

async function startCaddy(config: unknown): Promise<void> {
  caddy?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  const file = join(dir, `caddy-${Date.now()}.json`);
  await writeFile(file, JSON.stringify(config));
  caddy = spawn('caddy', ['run', '--config', file], { stdio: 'ignore' });
}

test('the certificate comes from the ACME server and verifies against its root', async () => {
  const acme = { directory: pebble.directory, email: 'ops@example.test', trustedRootFiles: [pebble.listenerCertFile] };
  await startCaddy(renderCaddyConfig(input(acme, 'acme')));
  const root = await pebble.issuingRoot();
  const cert = await waitForCertificate((c) => String(c.issuer.CN).includes('Pebble'), root);
  assert.ok(cert.subjectaltname?.includes(`DNS:${name}`), cert.subjectaltname);
});

test('with the ACME server unreachable, the internal CA signs the certificate', async () => {
  const acme = { directory: 'https://127.0.0.1:9/dir', email: 'ops@example.test' };
  await startCaddy(renderCaddyConfig(input(acme, 'fallback')));
  const cert = await waitForCertificate((c) => String(c.issuer.CN).startsWith('Caddy Local Authority'));
  assert.ok(cert.subjectaltname?.includes(`DNS:${name}`));
});

/** Connects with SNI `name` until the served certificate passes `check`; verifies the chain against `ca` when given. */
async function waitForCertificate(check: (c: PeerCertificate) => boolean, ca?: string): Promise<PeerCertificate> {
  const deadline = Date.now() + 60_000;
  const options: ConnectionOptions = { host: '127.0.0.1', port: ports.https, servername: name };
  if (ca === undefined) options.rejectUnauthorized = false;
  else options.ca = ca;
  for (;;) {
    const seen = await new Promise<PeerCertificate | Error>((resolve) => {
      const socket = connect(options, () => {
        const c = socket.getPeerCertificate();
        socket.end();
        resolve(c);
      });
      socket.on('error', resolve);
    });
    if (!(seen instanceof Error) && check(seen)) return seen;
    if (Date.now() > deadline) {
      throw new Error(`no matching certificate: ${seen instanceof Error ? seen.message : JSON.stringify(seen.issuer)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
