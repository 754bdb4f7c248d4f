import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { ForgeSettings } from '../../agent/core/config-types.gen.ts';
import type { CycleOutcome } from '../../agent/core/status.ts';
import { commitStatusRequest, sendForgeRequest } from '../../agent/drivers/forge/commit-status.ts';
import { ForgeReporter } from '../../agent/engine/forge-reporter.ts';
import { Reconciler } from '../../agent/engine/loop/schedule.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { SecretRegistry } from '../../agent/lib/secrets.ts';
import { startFakeForge } from '../../devenv/fake-forge.ts';

const TOKEN = 'forge-token-that-must-never-be-logged';
const SHA = 'a'.repeat(40);
const SHA2 = 'b'.repeat(40);

function reporter(settings: ForgeSettings, lines: string[] = []): ForgeReporter {
  const secrets = new SecretRegistry();
  secrets.add(settings.token);
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return new ForgeReporter({
    name: 'demo',
    log: createLogger({ level: 'debug', secrets, destination }),
    settings: () => settings,
    send: (job) => sendForgeRequest(commitStatusRequest(job.forge, job), 2000),
    scrub: (t) => secrets.scrub(t),
    baseDelayMs: 20,
    maxDelayMs: 100,
  });
}

const applied: CycleOutcome = { kind: 'applied', revision: SHA, steps: 3 };

test('each forge gets its own path, auth header and payload for the same status', async (t) => {
  const forge = await startFakeForge({ token: TOKEN });
  t.after(() => forge.stop());
  const cases = [
    {
      kind: 'github',
      repository: 'acme/fleet',
      path: `/repos/acme/fleet/statuses/${SHA}`,
      auth: `Bearer ${TOKEN}`,
      body: {
        state: 'success',
        context: 'appliance/demo',
        description: 'Applied: the appliance runs this revision',
        target_url: 'https://demo.example.org/status',
      },
    },
    {
      kind: 'gitea',
      repository: 'acme/fleet',
      path: `/api/v1/repos/acme/fleet/statuses/${SHA}`,
      auth: `token ${TOKEN}`,
      body: {
        state: 'success',
        context: 'appliance/demo',
        description: 'Applied: the appliance runs this revision',
        target_url: 'https://demo.example.org/status',
      },
    },
    {
      kind: 'gitlab',
      repository: 'acme/infra/fleet',
      path: `/api/v4/projects/acme%2Finfra%2Ffleet/statuses/${SHA}`,
      auth: TOKEN,
      body: {
        state: 'success',
        name: 'appliance/demo',
        description: 'Applied: the appliance runs this revision',
        target_url: 'https://demo.example.org/status',
      },
    },
  ] as const;
  for (const c of cases) {
    const r = reporter({
      kind: c.kind,
      api_url: forge.apiUrl(c.kind),
      repository: c.repository,
      token: TOKEN,
      target_url: 'https://demo.example.org/status',
    });
    r.cycleFinished(applied);
    await r.queue.idle();
    const call = forge.calls.at(-1);
    assert.deepEqual(call, { method: 'POST', path: c.path, auth: c.auth, body: c.body }, c.kind);
  }
  // A stall is a failure (GitLab: failed), a transient error an error.
  const r = reporter({ kind: 'gitlab', api_url: forge.apiUrl('gitlab'), repository: '42', token: TOKEN });
  r.cycleFinished({
    kind: 'stalled',
    revision: SHA2,
    reason: 'ConfigInvalid',
    code: 'ConfigInvalid',
    message: 'appliance.yml: /images: bad',
  });
  await r.queue.idle();
  assert.deepEqual(forge.calls.at(-1)?.body, {
    state: 'failed',
    name: 'appliance/demo',
    description: 'ConfigInvalid: appliance.yml: /images: bad',
  });
  assert.equal(forge.calls.at(-1)?.path, `/api/v4/projects/42/statuses/${SHA2}`);
});

test('a status is sent only when it changed', async (t) => {
  const forge = await startFakeForge({ token: TOKEN });
  t.after(() => forge.stop());
  const r = reporter({ kind: 'github', api_url: forge.apiUrl('github'), repository: 'acme/fleet', token: TOKEN });
  r.cycleFinished(applied);
  await r.queue.idle();
  r.cycleFinished({ kind: 'unchanged', revision: SHA });
  r.cycleFinished({ kind: 'unchanged', revision: SHA });
  await r.queue.idle();
  assert.equal(forge.calls.length, 1, 'the same state is not posted again');
  r.cycleFinished({
    kind: 'failed',
    revision: SHA,
    reason: 'DockerUnavailable',
    code: 'DockerUnavailable',
    message: 'engine down',
  });
  await r.queue.idle();
  assert.equal(forge.calls.length, 2);
  assert.deepEqual((forge.calls[1]?.body as { state: string }).state, 'error');
});

test('a forge that is down or answers 401 is logged once per event and retried; cycles are unaffected', async (t) => {
  const forge = await startFakeForge({ token: 'the-right-token' });
  t.after(() => forge.stop());
  const lines: string[] = [];
  const r = reporter({ kind: 'gitea', api_url: forge.apiUrl('gitea'), repository: 'acme/fleet', token: TOKEN }, lines);
  let n = 0;
  const reconciler = new Reconciler(
    {
      cycle: () => Promise.resolve({ kind: 'applied', revision: ++n % 2 === 0 ? SHA : SHA2, steps: 1 }),
      log: createLogger({ level: 'silent' }),
      onCycle: (outcome) => {
        r.cycleFinished(outcome);
      },
    },
    { appliance: 'demo', intervalMs: 60_000 },
  );
  const started = Date.now();
  for (let i = 0; i < 6; i++) await reconciler.trigger('test');
  assert.ok(Date.now() - started < 2000, 'six cycles ran while the forge refused every status');
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.ok(forge.attempts.length >= 3, `retried (${forge.attempts.length} attempts)`);
  const delivered = (): number => forge.calls.length;
  assert.equal(delivered(), 0);
  const warned = lines.filter((l) => l.includes('"level":"warn"'));
  assert.equal(warned.length, 1, `one warning for the 401, not one per retry:\n${warned.join('')}`);
  assert.match(warned[0] ?? '', /ForgeUnauthorized/);
  assert.ok(!lines.join('').includes(TOKEN), 'the token is never logged');

  // The forge goes down: a new event, logged once more; then it recovers with the right token.
  forge.fault = 'unavailable';
  await new Promise((resolve) => setTimeout(resolve, 300));
  forge.fault = undefined;
  forge.token = TOKEN;
  await r.queue.idle();
  assert.ok(delivered() >= 1, 'the status arrives once the forge takes it');
  assert.equal(
    forge.calls.at(-1)?.path,
    `/api/v1/repos/acme/fleet/statuses/${SHA}`,
    'the newest state of each commit is sent',
  );
  assert.equal(lines.filter((l) => l.includes('"level":"warn"') && l.includes('ForgeUnavailable')).length, 1);
  await reconciler.stop();
});
