import assert from 'node:assert/strict';
import { access, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cloneOwner } from '../../agent/core/clone.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import type { EnvConfig } from '../../agent/core/config-types.gen.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { openSnapshots } from '../../agent/drivers/snapshot/store.ts';
import { CloneRuntime } from '../../agent/engine/clones.ts';
import { DockerCloneMachine } from '../../agent/machine/docker-clone-machine.ts';
import { storageLayout } from '../../agent/machine/storage-layout.ts';
import { httpRequest, TEST_LABEL, type HttpAnswer } from '../../devenv/docker-env.ts';
import { loopBtrfs, type LoopBtrfs } from '../../devenv/env/btrfs.ts';
import { containersOf, makeStack, withDemoCommands, type Stack } from '../../devenv/engine-stack.ts';
import { withIngress } from '../../devenv/ingress-builder.ts';

// Production (the demo behind its Caddy) on btrfs, and clones of it made by the runtime.
let fs: LoopBtrfs;
let s: Stack;
let root: string;
let prod: DesiredState;
let clock = new Date('2026-12-05T10:00:00Z');
const ports = { http: 18580, https: 18543 };
const domain = 'demo.test';
const BANNER = 'CLONE - test copy';

function runtime(minFree?: { bytes?: number; fraction?: number }): CloneRuntime {
  return new CloneRuntime({
    machine: new DockerCloneMachine(s.docker, s.stateDir, s.log, { [TEST_LABEL]: s.label }),
    stateDir: s.stateDir,
    log: s.log,
    production: () => prod,
    exclusive: (fn) => fn(),
    now: () => clock,
    ...(minFree === undefined ? {} : { minFree }),
  });
}

const get = (host: string, p = '/', method = 'GET'): Promise<HttpAnswer> =>
  httpRequest(`https://127.0.0.1:${ports.https}${p}`, { method, headers: { Host: host }, tls: { servername: host } });

async function root_(host: string): Promise<{ version: string; rows: number; banner?: string }> {
  const res = await get(host);
  assert.equal(res.status, 200, res.body.toString());
  return JSON.parse(res.body.toString()) as { version: string; rows: number; banner?: string };
}

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

before(async () => {
  fs = await loopBtrfs('clones', '2G');
  root = path.join(fs.mount, `clones-${process.pid}`);
  await mkdir(root, { recursive: true });
  s = await makeStack('clones', { seedSchema: false, dataDir: path.join(root, 'postgresql') });
  const d = withDemoCommands(s.desired());
  prod = withIngress(d, { image: s.env.images['caddy:2.6'] ?? '', dataPath: root, ports, names: [domain] });
  prod.site = {
    domain,
    storage: { paths: { data: root, volatile: path.join(root, '.volatile') } },
    registries: [{ server: s.env.registry.url, username: s.env.registry.username, password: s.env.registry.password }],
  } as unknown as EnvConfig;
  const applied = await s.apply(prod);
  assert.equal(applied.applied, true, JSON.stringify(applied.error));
  for (let i = 0; i < 3; i++) assert.equal((await get(domain, '/rows', 'POST')).status, 201);
});
after(async () => {
  await runtime()
    .remove('qa')
    .catch(() => undefined);
  await runtime()
    .remove('gone')
    .catch(() => undefined);
  await s.cleanup();
  await fs.down();
});

test("a clone shows its setting on <clone>.<domain>, takes writes, and production's rows and plan stay as they are", async () => {
  const r = runtime();
  const ready = await r.ensure({
    name: 'qa',
    desired: prod,
    settings: { DEMO_BANNER: BANNER },
    expiresAt: new Date(clock.getTime() + 60_000),
    purpose: 'clone',
  });
  assert.equal(ready.host, `qa.${domain}`);
  // Its copy is migrated as far as production's (production's migration records came with it):
  // no migration step and no PRE_MIGRATE snapshot.
  assert.equal(ready.migrationMs, undefined, 'the clone did not migrate its copy again');
  const cloneSteps = s.logLines
    .map((l) => JSON.parse(l) as { clone?: string; msg: string })
    .filter((l) => l.clone === 'qa' && /^(app\.migrate|snapshot\.create) /.test(l.msg));
  assert.deepEqual(cloneSteps, []);
  assert.deepEqual(await root_(`qa.${domain}`), { version: 'v1', rows: 3, banner: BANNER });
  for (let i = 0; i < 2; i++) assert.equal((await get(`qa.${domain}`, '/rows', 'POST')).status, 201);
  assert.equal((await root_(`qa.${domain}`)).rows, 5);
  assert.deepEqual(await root_(domain), { version: 'v1', rows: 3 }, 'production has its own rows and no banner');
  assert.deepEqual(
    (await containersOf(s.env, cloneOwner(s.owner, 'qa'))).map((c) => c.replace(s.owner, '<app>')),
    ['<app>-qa-postgres running', '<app>-qa-web running'],
  );
  const [status] = r.list();
  assert.equal(status?.state, 'running');
  assert.equal(status.host, `qa.${domain}`);
  assert.equal(status.createdAt, clock.toISOString());
  assert.equal(status.expiresAt, new Date(clock.getTime() + 60_000).toISOString());
  // Production's next pass sees nothing to do: the clone's host and network are not its drift.
  const again = await s.apply(prod);
  assert.deepEqual(
    again.plan.steps.map((st) => st.id),
    [],
  );
  assert.equal((await root_(`qa.${domain}`)).banner, BANNER, 'the clone is still routed after it');
});

test('a clone made before an agent restart runs commands before it is ensured again', async () => {
  prod.clones = [{ name: 'qa', expiresAfterMs: 60_000, settings: { DEMO_BANNER: BANNER } }];
  // A new runtime is the agent after a restart: it knows the clone only by its record and entry.
  const res = await runtime().exec('qa', 'migration_status');
  assert.equal(res.exitCode, 0, res.tail);
  const none = await runtime()
    .exec('nosuch', 'migration_status')
    .catch((e: unknown) => e);
  assert.ok(isAgentError(none) && none.code === 'CloneNotFound', String(none));
});

test("a clone snapshot left by a crash is removed on the next follow; production's snapshots stay", async () => {
  const layout = storageLayout(prod);
  assert.ok(layout !== undefined);
  const snaps = await openSnapshots(layout.root);
  const { volumes } = layout;
  const left = await snaps.create({ kind: 'CLONE', volumes, now: new Date('2026-12-01T00:00:00Z') });
  const own = await snaps.create({ kind: 'PRE_MIGRATE', volumes, now: new Date('2026-12-01T00:00:01Z') });
  await runtime().follow();
  const names = (await snaps.list()).map((x) => x.name);
  assert.ok(!names.includes(left.name), `${left.name} is gone: ${names.join(', ')}`);
  assert.ok(names.includes(own.name), `production's ${own.name} is kept`);
  await snaps.delete(own.name);
});

test('an expired clone is removed with its snapshot, and not made again while its entry stays', async () => {
  const r = runtime();
  prod.clones = [{ name: 'qa', expiresAfterMs: 60_000, settings: { DEMO_BANNER: BANNER } }];
  await r.follow(); // before expiry: kept (already there, the entry matches)
  assert.equal(await exists(path.join(root, 'clones', 'qa', 'pgdata')), true);
  clock = new Date(clock.getTime() + 2 * 60_000);
  await r.follow();
  assert.deepEqual(await containersOf(s.env, cloneOwner(s.owner, 'qa')), []);
  assert.equal(await exists(path.join(root, 'clones', 'qa')), false, 'the snapshot is gone');
  assert.equal(r.list()[0]?.state, 'expired');
  const res = await get(`qa.${domain}`).catch((err: unknown) => err);
  assert.ok(!(res !== null && typeof res === 'object' && 'status' in res && res.status === 200), 'no longer routed');
  await r.follow();
  assert.deepEqual(await containersOf(s.env, cloneOwner(s.owner, 'qa')), [], 'not made again');
  assert.deepEqual(await root_(domain), { version: 'v1', rows: 3 });
});

test("deleting a clone's entry removes its stack and its snapshot", async () => {
  const r = runtime();
  prod.clones = [];
  await r.ensure({
    name: 'gone',
    desired: prod,
    settings: {},
    expiresAt: new Date(clock.getTime() + 3_600_000),
    purpose: 'clone',
  });
  assert.equal((await containersOf(s.env, cloneOwner(s.owner, 'gone'))).length, 2);
  await r.follow();
  assert.deepEqual(await containersOf(s.env, cloneOwner(s.owner, 'gone')), []);
  assert.equal(
    await exists(path.join(root, 'clones', 'gone')),
    false,
    `${JSON.stringify(await readdir(path.join(root, 'clones', 'gone')).catch(() => []))}\n${s.logLines
      .filter((l) => /clone/.test(l))
      .slice(-15)
      .join('\n')}`,
  );
  assert.deepEqual(r.list(), []);
});

test('below the free-space threshold a clone is refused and the status says why', async () => {
  const r = runtime({ fraction: 1 });
  const err = await r
    .ensure({
      name: 'big',
      desired: prod,
      settings: {},
      expiresAt: new Date(clock.getTime() + 60_000),
      purpose: 'clone',
    })
    .catch((e: unknown) => e);
  assert.ok(isAgentError(err) && err.code === 'CloneNoSpace', String(err));
  const [status] = r.list();
  assert.equal(status?.state, 'refused');
  assert.equal(status.reason?.code, 'CloneNoSpace');
  assert.match(status.reason.message, /MiB free on .*clones need at least/);
  assert.equal(await exists(path.join(root, 'clones', 'big')), false, 'no snapshot was taken');
});
