import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { createHmac } from 'node:crypto';
import { initialStatus, cycleFinished, type AgentStatus } from '../../agent/core/status.ts';
import { startHttpApi } from '../../agent/engine/http-api.ts';
import { signBody } from '../../agent/engine/webhook-auth.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { SecretRegistry } from '../../agent/lib/secrets.ts';

const quiet = createLogger({
  destination: new Writable({
    write: (_c, _e, cb) => {
      cb();
    },
  }),
});

function call(
  url: string,
  method: string,
  body = '',
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function setup(t: { after: (fn: () => Promise<void>) => void }, secret?: string) {
  const secrets = new SecretRegistry();
  secrets.add('db-password-never-shown');
  let status: AgentStatus = initialStatus('demo', new Date('2026-01-01T00:00:00Z'));
  status = cycleFinished(
    status,
    { kind: 'failed', revision: 'abc', reason: 'X', code: 'X', message: 'login with db-password-never-shown failed' },
    new Date(),
    new Date(),
  );
  const triggers: string[] = [];
  const api = await startHttpApi(
    {
      status: () => status,
      trigger: (r) => triggers.push(r),
      log: quiet,
      secrets,
    },
    { listen: '127.0.0.1:0', staleAfterMs: 60_000, ...(secret === undefined ? {} : { webhookSecret: secret }) },
  );
  t.after(() => api.close());
  return { api, triggers };
}

test('GET /status returns the status JSON with secret values scrubbed', async (t) => {
  const { api } = await setup(t);
  const res = await call(`${api.url}/status`, 'GET');
  assert.equal(res.status, 200);
  const body = JSON.parse(res.text) as AgentStatus;
  assert.equal(body.appliance, 'demo');
  assert.equal(body.lastAttemptedRevision, 'abc');
  assert.doesNotMatch(res.text, /db-password-never-shown/);
  assert.match(body.lastError?.message ?? '', /\[REDACTED\]/);
});

test('GET /metrics is Prometheus text with cycle counters and conditions', async (t) => {
  const { api } = await setup(t);
  const res = await call(`${api.url}/metrics`, 'GET');
  assert.equal(res.status, 200);
  assert.match(res.text, /^appliance_reconcile_cycles_total\{appliance="demo",outcome="failed"\} 1$/m);
  assert.match(res.text, /^appliance_condition\{appliance="demo",type="Ready"\} 0$/m);
  assert.match(res.text, /^appliance_condition_reason_info\{appliance="demo",type="Ready",reason="X"\} 1$/m);
  assert.match(res.text, /^process_resident_memory_bytes \d+$/m);
  assert.match(res.text, /^nodejs_heap_used_bytes \d+$/m);
});

test('GET /healthz is 200 while cycles keep ending', async (t) => {
  const { api } = await setup(t);
  assert.equal((await call(`${api.url}/healthz`, 'GET')).status, 200);
});

test('POST /sync with a valid HMAC triggers a cycle; a bad or missing one is refused', async (t) => {
  const secret = 'webhook-secret-for-test';
  const { api, triggers } = await setup(t, secret);
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const ok = await call(`${api.url}/sync`, 'POST', body, { 'x-hub-signature-256': signBody(secret, body) });
  assert.equal(ok.status, 202);
  assert.deepEqual(triggers, ['webhook']);

  const wrong = await call(`${api.url}/sync`, 'POST', body, { 'x-hub-signature-256': signBody('other', body) });
  assert.equal(wrong.status, 401);
  const tampered = await call(`${api.url}/sync`, 'POST', `${body} `, {
    'x-hub-signature-256': signBody(secret, body),
  });
  assert.equal(tampered.status, 401);
  const missing = await call(`${api.url}/sync`, 'POST', body);
  assert.equal(missing.status, 401);
  const gitea = createHmac('sha256', secret).update(body).digest('hex');
  assert.equal((await call(`${api.url}/sync`, 'POST', body, { 'x-gitea-signature': gitea })).status, 202);
  assert.equal((await call(`${api.url}/sync`, 'POST', body, { 'x-gitlab-token': secret })).status, 202);
  assert.deepEqual(triggers, ['webhook', 'webhook', 'webhook']);
});

test('POST /sync is refused when no webhook secret is configured', async (t) => {
  const { api, triggers } = await setup(t);
  const res = await call(`${api.url}/sync`, 'POST', '{}', { 'x-hub-signature-256': signBody('', '{}') });
  assert.equal(res.status, 403);
  assert.deepEqual(triggers, []);
});
