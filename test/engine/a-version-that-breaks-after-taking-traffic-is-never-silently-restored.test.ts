import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DesiredState } from '../../agent/core/desired.ts';
import { docker, httpRequest, type HttpAnswer } from '../../devenv/docker-env.ts';
import { makeStack, withDemoCommands, type Stack } from '../../devenv/engine-stack.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';
import { requestLoop, type LoopResult } from '../../devenv/request-loop.ts';

// The demo app behind the agent's Caddy. A version "breaks after taking traffic" the way a real
// one would: its health check starts failing while it serves (here once /tmp/broken exists in
// its container, which the test creates after users wrote through it).
let s: Stack;
const ports = { http: 18680, https: 18643 };
const base = `https://127.0.0.1:${ports.https}`;
const host = 'localhost';

before(async () => {
  s = await makeStack('after-traffic', { seedSchema: false });
});
after(async () => {
  await s.cleanup();
});

function demo(version: string, revision: string, options: { reverse?: boolean } = {}): DesiredState {
  const d = s.desired({ webImage: s.env.images[`demo:${version}`] ?? '', revision });
  const web = d.app.services.find((x) => x.name === 'web');
  if (web === undefined) throw new Error('no web');
  web.healthcheck = {
    cmd: ['sh', '-c', 'test ! -e /tmp/broken && python3 /app/app.py healthcheck'],
    intervalSeconds: 1,
    timeoutSeconds: 3,
    retries: 2,
    startPeriodSeconds: 3,
  };
  return withIngress(withDemoCommands(d, options), {
    image: s.env.images['caddy:2.6'] ?? '',
    dataPath: path.join(s.stateDir, '..', 'data'),
    ports,
  });
}

const get = (p: string): Promise<HttpAnswer> =>
  httpRequest(`${base}${p}`, { headers: { Host: host }, tls: { servername: host } });

async function root(): Promise<{ version: string; rows: number }> {
  const res = await get('/');
  assert.equal(res.status, 200, res.body.toString());
  return JSON.parse(res.body.toString()) as { version: string; rows: number };
}

async function health(): Promise<string> {
  const out = await docker(s.env, ['inspect', '--format', '{{.State.Health.Status}}', `${s.owner}-web`]);
  return out.stdout.trim();
}

/** Makes web's health check fail, as a version that breaks while serving, and waits for Docker to see it. */
async function breakWeb(how: 'touch' | 'rm'): Promise<void> {
  const args = how === 'touch' ? ['touch', '/tmp/broken'] : ['rm', '-f', '/tmp/broken'];
  await docker(s.env, ['exec', `${s.owner}-web`, ...args]);
  const want = how === 'touch' ? 'unhealthy' : 'healthy';
  for (let i = 0; i < 60 && (await health()) !== want; i++) await new Promise((r) => setTimeout(r, 500));
  assert.equal(await health(), want);
}

const acked = (seen: readonly LoopResult[]): number =>
  seen.filter((r) => 'answer' in r && r.answer.status === 201).length;

function summary(results: readonly LoopResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    const key = 'error' in r ? `error ${r.error}` : String(r.answer.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return JSON.stringify([...counts]);
}

test('v2 breaks after taking traffic: the agent migrates back to v1 with the reverse migrations, every write kept', async () => {
  assert.equal((await s.apply(demo('v1', 'a'.repeat(40)))).applied, true);
  const loop = requestLoop(`${base}/rows`, { method: 'POST', servername: host, pauseMs: 50 });
  const up = await s.apply(demo('v2', 'b'.repeat(40)));
  assert.equal(up.applied, true, JSON.stringify(up.error));
  assert.ok(
    up.plan.steps.some((st) => st.action === 'app.migrate'),
    'v2 migrates',
  );
  await new Promise((r) => setTimeout(r, 1_000));
  await breakWeb('touch');
  const back = await s.apply(demo('v2', 'b'.repeat(40)));
  await new Promise((r) => setTimeout(r, 1_000));
  const seen = await loop.stop();
  assert.equal(back.applied, false);
  assert.equal(back.error?.code, 'UnhealthyAfterTraffic', JSON.stringify(back.error));
  assert.equal(back.error.terminal, true);
  assert.match(back.error.message, /migrated back to .* reverse migrations, the data written since is kept/);
  const ids = back.plan.steps.map((st) => st.id);
  assert.ok(ids.includes('app.reverse-migrate:web'), ids.join(' '));
  assert.ok(!ids.some((id) => id.startsWith('snapshot.restore')), 'no snapshot is restored');
  assert.ok(
    seen.every((r) => 'answer' in r && (r.answer.status === 201 || r.answer.status === 503)),
    `only writes and the service page: ${summary(seen)}`,
  );
  const now = await root();
  assert.equal(now.version, 'v1');
  assert.ok(acked(seen) > 0, summary(seen));
  assert.equal(now.rows, acked(seen), `every acknowledged write is there: ${summary(seen)}`);
  // The revision keeps the previous version (also on its next cycles), not v2 again.
  const again = await s.apply(demo('v2', 'b'.repeat(40)));
  assert.equal(again.error?.code, 'UnhealthyAfterTraffic');
  assert.deepEqual(again.changeSet, [], 'nothing more to do');
  assert.equal((await root()).version, 'v1');
});

test('without reverse migrations it keeps v2, stalls, and names the restore_snapshot commit with the data it would lose', async () => {
  const revision = 'c'.repeat(40);
  const before = (await root()).rows;
  const loop = requestLoop(`${base}/rows`, { method: 'POST', servername: host, pauseMs: 50 });
  const up = await s.apply(demo('v2', revision, { reverse: false }));
  assert.equal(up.applied, true, JSON.stringify(up.error));
  await new Promise((r) => setTimeout(r, 1_000));
  await breakWeb('touch');
  const kept = await s.apply(demo('v2', revision, { reverse: false }));
  assert.equal(kept.applied, true);
  assert.equal(kept.unhealthy?.code, 'UnhealthyAfterTraffic');
  assert.match(
    kept.unhealthy.message,
    /cannot be migrated back \(the app defines no reverse_migrate command\): it is kept/,
  );
  const notice = kept.notices.find((n) => n.code === 'RestoreSnapshotPossible');
  assert.ok(notice !== undefined, JSON.stringify(kept.notices));
  assert.match(notice.message, /allow_snapshot_restore: PRE_MIGRATE-\S+ \(a restore_snapshot commit\)/);
  assert.match(notice.message, /the data written since \S+ \(the last \d+ s\) would be lost/);
  assert.ok(!kept.plan.steps.some((st) => st.action.startsWith('snapshot.') || st.action.startsWith('container.')));
  const page = await get('/');
  assert.equal(page.status, 503, 'users see the stalled page, not a failing app');
  await breakWeb('rm');
  await s.apply(demo('v2', revision, { reverse: false }));
  const seen = await loop.stop();
  const now = await root();
  assert.equal(now.version, 'v2', 'the new version was kept');
  assert.equal(now.rows, before + acked(seen), `every acknowledged write is there: ${summary(seen)}`);
});
