import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { docker } from '../../devenv/docker-env.ts';
import { containersOf, makeStack, type Stack } from '../../devenv/engine-stack.ts';

let s: Stack;
before(async () => {
  s = await makeStack('rc-first');
});
after(async () => {
  await s.cleanup();
});

test('the first apply brings postgres and web up, and a second apply changes nothing', async () => {
  const result = await s.apply(s.desired());
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.applied, true);
  assert.deepEqual(result.remaining.steps, []);
  assert.deepEqual(
    result.plan.steps.map((st) => st.action),
    ['network.create', 'network.create', 'volume.create', 'container.create', 'container.create'],
    'the init directory exists already: only the data directory is made',
  );
  assert.ok(result.changeSet.every((c) => c.outcome === 'applied'));
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
  assert.deepEqual(await s.webRoot(), { version: 'v1', rows: 0 });

  const ids = [await s.idOf('postgres'), await s.idOf('web')];
  const again = await s.apply(s.desired());
  assert.equal(again.applied, true);
  assert.deepEqual(again.plan.steps, []);
  assert.deepEqual(again.changeSet, []);
  assert.deepEqual([await s.idOf('postgres'), await s.idOf('web')], ids);

  const inventory = JSON.parse(await readFile(path.join(s.stateDir, 'inventory.json'), 'utf8')) as {
    containers: { name: string }[];
    networks: { name: string }[];
  };
  assert.deepEqual(
    inventory.containers.map((c) => c.name),
    [`${s.owner}-postgres`, `${s.owner}-web`],
  );
  assert.deepEqual(
    inventory.networks.map((n) => n.name),
    [`${s.owner}-backend.internal`, `${s.owner}-default`],
  );
  const journal = JSON.parse(await readFile(path.join(s.stateDir, 'journal.json'), 'utf8')) as {
    status: string;
    steps: { state: string }[];
  };
  assert.equal(journal.status, 'applied');
  assert.ok(journal.steps.every((st) => st.state === 'done' || st.state === 'committed'));
});

test('secrets are in no label, command line or log line, and their files are private', async () => {
  for (const service of ['postgres', 'web']) {
    const info = JSON.parse((await docker(s.env, ['inspect', `${s.owner}-${service}`])).stdout) as {
      Config: { Labels: Record<string, string>; Cmd: string[] | null; Entrypoint: string[] | null };
      Args: string[];
      Path: string;
      HostConfig: { Mounts: { Source: string; Target: string; ReadOnly: boolean }[] };
    }[];
    const c = info[0];
    assert.ok(c !== undefined);
    const visible = JSON.stringify([c.Config.Labels, c.Config.Cmd, c.Config.Entrypoint, c.Args, c.Path]);
    assert.ok(!visible.includes(s.password), `${service}: the password is in a label or the command line`);
    const secret = c.HostConfig.Mounts.find((m) => m.Target === '/run/secrets/db_password');
    assert.ok(secret?.ReadOnly === true, `${service}: the secret file is not mounted read-only`);
    assert.equal((await stat(secret.Source)).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(secret.Source))).mode & 0o777, 0o700);
    assert.equal(await readFile(secret.Source, 'utf8'), s.password);
  }
  const top = await docker(s.env, ['top', `${s.owner}-web`, '-eo', 'pid,args']);
  assert.ok(!top.stdout.includes(s.password), 'the password is on a process command line');
  assert.ok(s.logLines.length > 0);
  assert.ok(!s.logLines.join('').includes(s.password), 'the password was logged');
  const dirs = await readdir(path.join(s.stateDir, 'secrets', s.owner));
  assert.deepEqual(dirs.sort(), ['postgres', 'web']);
});

test("an http health check keeps the image's own check in Docker, on the definition's schedule", async () => {
  // Docker cannot probe HTTP: between the agent's gates its health comes from the image's check,
  // which must not keep the image's timing (the demo's 3 s timeout, missed on a slow machine).
  const info = JSON.parse((await docker(s.env, ['inspect', `${s.owner}-web`])).stdout) as {
    Config: {
      Healthcheck?: { Test: string[]; Interval: number; Timeout: number; Retries: number; StartPeriod: number };
    };
  }[];
  assert.deepEqual(info[0]?.Config.Healthcheck, {
    Test: ['CMD', 'python3', '/app/app.py', 'healthcheck'],
    Interval: 1e9,
    Timeout: 2e9,
    Retries: 5,
    StartPeriod: 3e9,
  });
});
