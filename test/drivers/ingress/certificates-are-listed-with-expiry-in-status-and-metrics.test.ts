import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CertificateInfo } from '../../../agent/core/certificate-status.ts';
import { renderCaddyConfig, type IngressInput } from '../../../agent/core/ingress-caddy.ts';
import { condition, initialStatus, withCertificates } from '../../../agent/core/status.ts';
import { readCertificates } from '../../../agent/drivers/ingress/certificates.ts';
import { renderMetrics } from '../../../agent/engine/metrics.ts';
import { run } from '../../../agent/lib/exec.ts';
import { startPebble, type Pebble } from '../../../devenv/pebble.ts';

// Certificates really issued through Caddy: by an ACME server (pebble) and by Caddy's own CA.
const ports = { http: 30080, https: 30443 };
const admin = 'localhost:30019';
const acmeName = 'shop.example.test';
const internalName = 'internal.example.test';
const DAY = 86_400_000;
let dir: string;
let pebble: Pebble;
let upstream: http.Server;
let caddy: ChildProcess;
let certs: CertificateInfo[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ingress-certs-'));
  pebble = await startPebble({ httpPort: ports.http, port: 24100 });
  upstream = http.createServer((_req, res) => res.end('app'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const input = (names: string[], tls: IngressInput['tls']): IngressInput => ({
    names,
    routes: [{ path: '/', dial: `127.0.0.1:${(upstream.address() as AddressInfo).port}`, clientCerts: 'off' }],
    tls,
    ports,
    maxBodyBytes: 1024,
    readTimeoutSeconds: 30,
    storageRoot: join(dir, 'storage'),
    admin,
  });
  const acme = { directory: pebble.directory, email: 'ops@example.test', trustedRootFiles: [pebble.listenerCertFile] };
  await writeFile(join(dir, 'caddy.json'), JSON.stringify(renderCaddyConfig(input([acmeName], { acme }))));
  caddy = spawn('caddy', ['run', '--config', join(dir, 'caddy.json')], { stdio: 'ignore' });
  await until(async () => (await readCertificates(join(dir, 'storage'))).some((c) => !c.internal));
  // The same storage, now for a name without ACME: Caddy's internal CA signs it.
  await until(async () => {
    const res = await fetch(`http://${admin}/load`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(renderCaddyConfig(input([internalName], {}))),
    });
    return res.ok;
  });
  await until(async () => (await readCertificates(join(dir, 'storage'))).some((c) => c.internal));
  certs = await readCertificates(join(dir, 'storage'));
});

after(async () => {
  caddy.kill('SIGTERM');
  upstream.close();
  await pebble.stop();
  await rm(dir, { recursive: true, force: true });
});

test('the driver lists names, issuer and expiry of what pebble and the internal CA issued', async () => {
  assert.deepEqual(await readCertificates(join(dir, 'no-storage-yet')), [], 'before Caddy ever ran: none');
  assert.equal(certs.length, 2, JSON.stringify(certs));
  const [internal, acme] = certs; // sorted by name
  assert.ok(internal && acme);
  assert.deepEqual(acme.names, [acmeName]);
  assert.match(acme.issuer, /^Pebble Intermediate CA/);
  assert.equal(acme.internal, false);
  assert.deepEqual(internal.names, [internalName]);
  assert.match(internal.issuer, /^Caddy Local Authority/);
  assert.equal(internal.internal, true);
  for (const c of certs) {
    assert.ok(Date.parse(c.notBefore) <= Date.now() + 60_000 && Date.parse(c.notAfter) > Date.now(), c.notAfter);
  }
});

test('CertificateExpiring is raised under 14 days left on a public certificate, never for the internal one', () => {
  const acme = certs.find((c) => !c.internal);
  assert.ok(acme);
  const end = Date.parse(acme.notAfter);
  const fresh = condition(
    withCertificates(initialStatus('shop', new Date()), certs, new Date(end - 15 * DAY)),
    'CertificateExpiring',
  );
  assert.equal(fresh?.status, false);
  assert.equal(fresh.reason, 'Valid');
  const late = withCertificates(initialStatus('shop', new Date()), certs, new Date(end - 13 * DAY));
  const expiring = condition(late, 'CertificateExpiring');
  assert.equal(expiring?.status, true);
  assert.equal(expiring.reason, 'Expiring');
  assert.equal(expiring.message, `${acmeName} ends in 13 days`);
  assert.equal(expiring.since, new Date(end - 14 * DAY).toISOString());
  assert.deepEqual(late.certificates, certs, '/status lists them');
  const gone = condition(
    withCertificates(initialStatus('shop', new Date()), certs, new Date(end + 1000)),
    'CertificateExpiring',
  );
  assert.equal(gone?.reason, 'Expired');
  // Caddy's internal certificates last hours: alone, they never raise the condition.
  const internalOnly = certs.filter((c) => c.internal);
  const now = new Date(Date.parse(internalOnly[0]?.notAfter ?? '') - 1000);
  const quiet = condition(withCertificates(initialStatus('shop', now), internalOnly, now), 'CertificateExpiring');
  assert.equal(quiet?.status, false);
  assert.equal(quiet.reason, 'NoPublicCertificate');
});

test('/metrics has one expiry gauge per certificate and stays promtool-clean', async () => {
  const status = withCertificates(initialStatus('shop', new Date()), certs, new Date());
  const text = renderMetrics(status, new Date());
  for (const c of certs) {
    const line = `appliance_certificate_expiry_timestamp_seconds{appliance="shop",name="${c.names[0] ?? ''}",issuer="${c.issuer}"} ${Math.floor(Date.parse(c.notAfter) / 1000)}`;
    assert.ok(text.includes(`${line}\n`), `${line}\nnot in\n${text}`);
  }
  assert.match(text, /^appliance_condition\{appliance="shop",type="CertificateExpiring"\} 0$/m);
  const file = join(dir, 'metrics.prom');
  await writeFile(file, text);
  const out = await run('sh', ['-c', `promtool check metrics < "${file}"`]);
  assert.equal(`${out.stdout}${out.stderr}`.trim(), '');
});

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}
