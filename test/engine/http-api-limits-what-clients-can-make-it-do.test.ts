import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { initialStatus } from '../../agent/core/status.ts';
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
const SECRET = 'webhook-secret-for-limits';

async function setup(t: { after: (fn: () => Promise<void>) => void }, secret?: string) {
  const triggers: string[] = [];
  const api = await startHttpApi(
    {
      status: () => initialStatus('demo', new Date('2026-01-01T00:00:00Z')),
      trigger: (r) => triggers.push(r),
      log: quiet,
      secrets: new SecretRegistry(),
    },
    { listen: '127.0.0.1:0', staleAfterMs: 60_000, ...(secret === undefined ? {} : { webhookSecret: secret }) },
  );
  t.after(() => api.close());
  const { port } = new URL(api.url);
  return { api, triggers, port: Number(port) };
}

/** Opens a raw connection, sends `head`, and resolves with what the server sent until it closed or `ms` passed. */
function raw(port: number, head: string, ms: number): Promise<{ text: string; closed: boolean; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      resolve({ text, closed: false, socket });
    }, ms);
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, socket });
    });
    socket.on('connect', () => {
      socket.write(head);
    });
    socket.on('timeout', reject);
  });
}

function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/sync`, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => {
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('an unsigned /sync is refused before its body arrives', async (t) => {
  const { port, triggers } = await setup(t, SECRET);
  const head = 'POST /sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{';
  const res = await raw(port, head, 2000);
  assert.match(res.text, /^HTTP\/1\.1 401 /);
  res.socket.destroy();
  assert.deepEqual(triggers, []);
});

test('/sync is refused before its body arrives when no webhook is configured', async (t) => {
  const { port } = await setup(t);
  const head = `POST /sync HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: ${signBody('', '')}\r\nContent-Length: 60000\r\n\r\n{`;
  const res = await raw(port, head, 2000);
  assert.match(res.text, /^HTTP\/1\.1 403 /);
  res.socket.destroy();
});

test('a signed body over 64 KiB is refused', async (t) => {
  const { api, triggers } = await setup(t, SECRET);
  const body = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
  const status = await post(api.url, body, { 'x-hub-signature-256': signBody(SECRET, body) }).catch(() => 413);
  assert.equal(status, 413);
  assert.deepEqual(triggers, []);
});

test('a client that sends its headers slowly is cut off after about 5 s', async (t) => {
  const { port } = await setup(t, SECRET);
  const started = Date.now();
  const res = await raw(port, 'GET /status HTTP/1.1\r\nHost: x\r\n', 9000);
  assert.ok(res.closed, 'the server kept a half-sent request open for 9 s');
  assert.ok(Date.now() - started < 8000);
  assert.match(res.text, /^$|^HTTP\/1\.1 408 /);
});

test('connections beyond the cap are closed at once', async (t) => {
  const { port, api } = await setup(t, SECRET);
  const open: Socket[] = [];
  t.after(() => {
    for (const s of open) s.destroy();
  });
  for (let i = 0; i < 64; i += 1) {
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', resolve);
      s.on('error', () => undefined);
      open.push(s);
    });
  }
  // Let the server accept them all before the next one arrives.
  await new Promise((r) => setTimeout(r, 200));
  const extra = await raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 2000);
  assert.ok(extra.closed);
  assert.equal(extra.text, '');
  for (const s of open.splice(0)) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await post(api.url, '', {}), 401);
});

test('/sync starts at most 5 cycles at once and drops a replayed delivery id', async (t) => {
  const { api, triggers } = await setup(t, SECRET);
  const body = '{"ref":"refs/heads/main"}';
  const signed = { 'x-hub-signature-256': signBody(SECRET, body) };
  assert.equal(await post(api.url, body, { ...signed, 'x-github-delivery': 'd-1' }), 202);
  assert.equal(await post(api.url, body, { ...signed, 'x-github-delivery': 'd-1' }), 200);
  assert.equal(await post(api.url, body, { 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'g-1' }), 202);
  assert.equal(await post(api.url, body, { 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'g-1' }), 200);
  assert.equal(await post(api.url, body, { ...signed, 'x-gitea-delivery': 'e-1' }), 202);
  assert.equal(await post(api.url, body, { ...signed, 'x-gitea-delivery': 'e-1' }), 200);
  assert.equal(triggers.length, 3);
  assert.equal(await post(api.url, body, signed), 202);
  assert.equal(await post(api.url, body, signed), 202);
  assert.equal(await post(api.url, body, signed), 429);
  assert.equal(triggers.length, 5);
});
