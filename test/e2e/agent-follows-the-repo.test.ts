import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { docker, ensureEnv, httpRequest, waitForHttp, type EnvInfo } from '../../devenv/docker-env.ts';
import {
  agentStatus,
  createFleet,
  removeOwned,
  startAgent,
  waitFor,
  type AgentProcess,
  type Fleet,
} from '../../devenv/fleet.ts';
import { git } from '../../devenv/git-repo.ts';
import {
  appAnswer,
  cond,
  containerIds,
  fleetRoot,
  uniqueName,
  waitForCycleOn,
  webhook,
} from '../../devenv/fleet-helpers.ts';

// One fleet and one agent process for the whole file: each test is a commit (or a hand-made
// change) followed by a webhook, in order, against the real engine, registry and git server.
const name = uniqueName('e2e');
let env: EnvInfo;
let fleet: Fleet;
let agent: AgentProcess;
let head = '';
const unowned = `${name}-web-copy`;

before(async () => {
  env = await ensureEnv();
  fleet = await createFleet({ root: fleetRoot(name), env, name, pollSeconds: 3600 });
  head = await git(fleet.work, ['rev-parse', 'HEAD']);
  // A container the agent does not own, named like one of its own.
  await docker(env, [
    'run',
    '-d',
    '--name',
    unowned,
    '--label',
    'appliance-test.test=e2e',
    env.images['debian:bookworm'] ?? '',
    'sleep',
    '3600',
  ]);
  agent = await startAgent(fleet, env);
});

after(async () => {
  await agent.stop();
  await removeOwned(env, name);
  await docker(env, ['rm', '-f', unowned], { okCodes: [0, 1] });
  await fleet.close();
});

test('the first cycle brings the stack up and marks the revision applied', async () => {
  const s = await waitForCycleOn(fleet, head, (x) => x.lastAppliedRevision === head, 300_000);
  assert.equal(cond(s, 'Ready').status, true, JSON.stringify(s.conditions));
  await waitForHttp(`${fleet.webUrl}/`, 30_000);
  assert.equal((await appAnswer(fleet)).version, 'v1');
  assert.deepEqual(Object.keys(await containerIds(env, name)).sort(), ['ingress', 'postgres', 'web']);
  // ACME is off here: the ingress's own CA signed the certificate, and /status lists it.
  await waitFor('the certificate in /status', 30_000, async () =>
    ((await agentStatus(fleet))?.certificates ?? []).some((c) => c.names.includes('localhost') && c.internal),
  );
  const metrics = await httpRequest(`${fleet.agentUrl}/metrics`, { timeoutMs: 5000 });
  assert.match(metrics.body.toString(), /appliance_certificate_expiry_timestamp_seconds\{[^}]*name="localhost"/);
});

test('an env.yml change replaces exactly the containers it affects', async () => {
  const before = await containerIds(env, name);
  head = await fleet.commit('Change the greeting', async (f) => {
    await f.env((doc) => {
      doc.setIn(['app', 'settings', 'DEMO_GREETING'], 'Hello from a commit');
    });
  });
  assert.equal(await webhook(fleet), 202);
  const s = await waitForCycleOn(fleet, head, (x) => x.lastAppliedRevision === head);
  assert.equal(cond(s, 'Ready').status, true);
  const after = await containerIds(env, name);
  assert.notEqual(after['web'], before['web'], 'web was replaced');
  assert.equal(after['postgres'], before['postgres'], 'postgres was not touched');
});

test('a container stopped by hand is started again on the next cycle', async () => {
  const ids = await containerIds(env, name);
  await docker(env, ['stop', '-t', '1', ids['web'] ?? '']);
  const cycles = (await agentStatus(fleet))?.history.length ?? 0;
  assert.equal(await webhook(fleet), 202);
  await waitFor('the drift cycle', 120_000, async () => ((await agentStatus(fleet))?.history.length ?? 0) > cycles);
  await waitFor('web running again', 60_000, async () => (await containerIds(env, name))['web'] !== undefined);
  await waitForHttp(`${fleet.webUrl}/`, 30_000);
});

test('a service added and then removed in the repo is created and pruned', async () => {
  head = await fleet.commit('Add a second web', async (f) => {
    await f.app((doc) => {
      doc.setIn(
        ['services', 'web2'],
        doc.createNode({
          role: 'app',
          image: '127.0.0.1:5000/demo:v1',
          command: ['serve'],
          environment: {
            DATABASE_URL: 'postgres://demo@postgres:5432/demo',
            DATABASE_PASSWORD_FILE: '/run/secrets/db_password',
            PORT: 8081,
          },
          secret_files: [{ target: '/run/secrets/db_password', from: 'secrets.DATABASE_PASSWORD' }],
          networks: ['backend'],
          depends_on: ['postgres'],
        }),
      );
    });
  });
  await webhook(fleet);
  await waitForCycleOn(fleet, head, (x) => x.lastAppliedRevision === head);
  assert.ok((await containerIds(env, name))['web2'] !== undefined, 'web2 was created');

  head = await fleet.commit('Remove the second web', async (f) => {
    await f.app((doc) => doc.deleteIn(['services', 'web2']));
  });
  await webhook(fleet);
  await waitForCycleOn(fleet, head, (x) => x.lastAppliedRevision === head);
  const ids = await containerIds(env, name);
  assert.equal(ids['web2'], undefined, 'web2 was pruned');
  assert.ok(ids['web'] !== undefined && ids['postgres'] !== undefined);
});

test('a commit with a schema error stalls with file, path and reason; the stack stays up', async () => {
  const applied = head;
  const bad = await fleet.commit('Typo in appliance.yml', async (f) => {
    await f.appliance((doc) => {
      doc.set('imagez', { web: 'x' });
    });
  });
  await webhook(fleet);
  const s = await waitForCycleOn(fleet, bad, (x) => cond(x, 'Stalled').status);
  assert.equal(cond(s, 'Stalled').reason, 'ConfigInvalid');
  assert.match(cond(s, 'Stalled').message, new RegExp(`appliances/${name}/appliance.yml: .*imagez`));
  assert.equal(s.lastAppliedRevision, applied);
  assert.equal((await appAnswer(fleet)).version, 'v1');

  // Restarted on the stalled head, the agent still corrects drift from the last applied revision.
  await agent.stop();
  const cycleAfter = (since: string) => async (): Promise<boolean> => {
    const x = await agentStatus(fleet);
    return (x?.lastCycleFinishedAt ?? '') > since && !cond(x ?? s, 'Reconciling').status;
  };
  const restarted = new Date().toISOString();
  agent = await startAgent(fleet, env);
  await waitFor('the first cycle after the restart', 120_000, cycleAfter(restarted));
  const web = (await containerIds(env, name))['web'] ?? '';
  await docker(env, ['stop', '-t', '1', web]);
  const stopped = new Date().toISOString();
  assert.equal(await webhook(fleet), 202);
  await waitFor('the drift cycle', 120_000, cycleAfter(stopped));
  const state = await docker(env, ['inspect', '--format', '{{.State.Status}}', web]);
  assert.equal(state.stdout.trim(), 'running', 'web was started again from the last applied revision');
  assert.equal(cond((await agentStatus(fleet)) ?? s, 'Stalled').reason, 'ConfigInvalid');

  head = await fleet.commit('Fix the typo', async (f) => {
    await f.appliance((doc) => doc.delete('imagez'));
  });
  await webhook(fleet);
  const fixed = await waitForCycleOn(fleet, head, (x) => x.lastAppliedRevision === head);
  assert.equal(cond(fixed, 'Ready').status, true);
  assert.equal(cond(fixed, 'Stalled').status, false);
});

test('the webhook refuses a bad signature and triggers nothing', async () => {
  const cycles = (await agentStatus(fleet))?.history.length ?? 0;
  assert.equal(await webhook(fleet, 'not-the-secret-at-all'), 401);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await agentStatus(fleet))?.history.length ?? 0, cycles);
});

test('the unowned container was never touched', async () => {
  const state = await docker(env, ['inspect', '--format', '{{.State.Status}}', unowned]);
  assert.equal(state.stdout.trim(), 'running');
});

test('an image bump pinned by digest migrates, replaces web and keeps the rows', async () => {
  const v2 = env.images['demo:v2'];
  assert.ok(v2?.includes('@sha256:'), 'the test env pins demo:v2 by digest');
  await httpRequest(`${fleet.webUrl}/rows`, { method: 'POST' });
  const rows = (await appAnswer(fleet)).rows;
  assert.ok(rows >= 1);
  const before = await containerIds(env, name);
  head = await fleet.commit('Update web to v2', async (f) => {
    await f.appliance((doc) => {
      doc.setIn(['images', 'web'], v2);
    });
  });
  await webhook(fleet);
  const s = await waitForCycleOn(fleet, head, (x) => x.lastAppliedRevision === head, 300_000);
  assert.equal(cond(s, 'Ready').status, true);
  const after = await containerIds(env, name);
  assert.notEqual(after['web'], before['web']);
  assert.equal(after['postgres'], before['postgres']);
  const image = await docker(env, ['inspect', '--format', '{{.Config.Image}}', after['web'] ?? '']);
  assert.equal(image.stdout.trim(), v2);
  const answer = await appAnswer(fleet);
  assert.equal(answer.version, 'v2');
  assert.equal(answer.rows, rows);
});

test('secrets appear neither in the agent log nor in its status', async () => {
  const log = await readFile(agent.logFile, 'utf8');
  const status = JSON.stringify(await agentStatus(fleet));
  for (const secret of [env.registry.password, fleet.webhookSecret, 'AGE-SECRET-KEY-']) {
    assert.ok(!log.includes(secret), 'secret in the agent log');
    assert.ok(!status.includes(secret), 'secret in /status');
  }
  assert.match(log, /"msg":"revision applied"/);
});
