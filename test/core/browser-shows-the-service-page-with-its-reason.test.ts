import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { loadDesired } from '../../agent/config/load.ts';
import { renderCaddyConfig, type IngressInput } from '../../agent/core/ingress-caddy.ts';
import { ingressService } from '../../agent/core/ingress-service.ts';
import { launchBrowser, reasonIsPainted, visit } from '../../devenv/browser.ts';
import { editYaml, fixtureRepo, memoryRepo, plainDecrypt } from '../config/helpers.ts';

// Real caddy with the rendered service mode, looked at by a real browser (Debian's chromium).
// Manual service mode is seen after a real commit: test/e2e/browser-shows-the-manual-service-page-after-its-commit.
const name = 'shop.example.test';
const ports = { http: 31080, https: 31443 };
const admin = 'localhost:31019';
let dir: string;
let caddy: ChildProcess;
let browser: Browser;

function input(service: IngressInput['service']): IngressInput {
  return {
    names: [name],
    routes: [{ path: '/', dial: '127.0.0.1:9', clientCerts: 'off' }],
    ...(service === undefined ? {} : { service }),
    tls: {},
    ports,
    maxBodyBytes: 1024,
    readTimeoutSeconds: 30,
    storageRoot: join(dir, 'storage'),
    admin,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ingress-browser-'));
  const service = { reason: 'starting' as const, message: 'Starting.', retryAfterSeconds: 30 };
  await writeFile(join(dir, 'caddy.json'), JSON.stringify(renderCaddyConfig(input(service))));
  caddy = spawn('caddy', ['run', '--config', join(dir, 'caddy.json')], { stdio: 'ignore' });
  browser = await launchBrowser({ hosts: { [name]: '127.0.0.1' } });
});

after(async () => {
  await browser.close();
  caddy.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

async function serviceFor(serviceMode: { enabled: boolean; message: string } | undefined, updating: boolean) {
  const files = editYaml(await fixtureRepo('basic'), 'appliances/shop-prod/appliance.yml', (d) => {
    if (serviceMode !== undefined) d['service_mode'] = serviceMode;
  });
  const r = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 't' });
  assert.ok(r.ok);
  const service = ingressService(r.value, updating ? { kind: 'updating', step: 'migration' } : { kind: 'serving' });
  assert.ok(service);
  return service;
}

async function load(config: unknown): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`http://${admin}/load`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(config),
    }).catch(() => undefined);
    if (res?.ok === true) return;
    if (Date.now() > deadline)
      throw new Error(`caddy refused the config: ${res === undefined ? 'down' : await res.text()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const [label, mode, updating, expected] of [
  ['updating', undefined, true, 'An update is in progress (the database is being migrated).'],
] as const) {
  test(`the browser shows the service page with its reason: ${label}`, async (t) => {
    const service = await serviceFor(mode, updating);
    assert.equal(service.reason, label);
    await load(renderCaddyConfig(input(service)));
    const seen = await visit(browser, `https://${name}:${ports.https}/some/page`, {
      ignoreHTTPSErrors: true,
      screenshot: `service-page-${label}`,
    });
    t.diagnostic(`screenshot: ${seen.screenshotFile ?? ''}`);
    assert.equal(seen.status, 503);
    assert.equal(seen.headers['retry-after'], String(service.retryAfterSeconds));
    assert.match(seen.text, /Service not available/);
    assert.ok(seen.text.includes(expected), seen.text);
    assert.ok(seen.screenshot);
    // Where the browser laid the reason out, the screenshot has text (not a blank or error page).
    const painted = await reasonIsPainted(browser, `https://${name}:${ports.https}/`, seen.screenshot, expected);
    assert.ok(painted.box.width > 50, JSON.stringify(painted.box));
    assert.ok(painted.ink > 100, 'the reason is painted on the screenshot');
    assert.equal(painted.below, 0, 'and the page below it is blank');
  });
}
