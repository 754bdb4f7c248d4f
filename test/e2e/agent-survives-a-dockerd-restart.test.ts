import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run } from '../../agent/lib/exec.ts';
import { ensureEnv, waitForHttp, type EnvInfo } from '../../devenv/docker-env.ts';
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
import { appAnswer, cond, fleetRoot, uniqueName, waitForCycleOn, webhook } from '../../devenv/fleet-helpers.ts';

// Stops and starts the test environment's Docker engine under a running agent: the agent must
// report the outage, keep running, and bring the stack back when the engine returns.
const envDir = join(import.meta.dirname, '..', '..', 'devenv', 'env');
const name = uniqueName('dockerd');
let env: EnvInfo;
let fleet: Fleet;
let agent: AgentProcess;

before(async () => {
  env = await ensureEnv();
  fleet = await createFleet({ root: fleetRoot(name), env, name, pollSeconds: 3600 });
  agent = await startAgent(fleet, env);
  const head = await git(fleet.work, ['rev-parse', 'HEAD']);
  await waitForCycleOn(fleet, head, (s) => s.lastAppliedRevision === head, 300_000);
});

after(async () => {
  await run('bash', [join(envDir, 'up.sh')], { timeoutMs: 600_000 });
  await agent.stop();
  await removeOwned(env, name);
  await fleet.close();
});

test('with the engine down, a cycle fails as DockerUnavailable and the agent keeps running', async () => {
  await run('bash', [join(envDir, 'down.sh')], { timeoutMs: 120_000 });
  const failedBefore = (await agentStatus(fleet))?.cycles.failed ?? 0;
  assert.equal(await webhook(fleet), 202);
  const s = await waitFor('a failed cycle', 120_000, async () => {
    const x = await agentStatus(fleet);
    return x !== undefined && x.cycles.failed > failedBefore ? x : undefined;
  });
  assert.equal(cond(s, 'Ready').status, false);
  assert.equal(cond(s, 'Ready').reason, 'DockerUnavailable');
  assert.equal(cond(s, 'Stalled').status, false, 'an engine outage is transient, not a stall');
  assert.equal(agent.child.exitCode, null, 'the agent is still running');
});

test('when the engine is back, the next cycle brings the stack up again', async () => {
  await run('bash', [join(envDir, 'up.sh')], { timeoutMs: 600_000 });
  assert.equal(await webhook(fleet), 202);
  const s = await waitFor('Ready again', 180_000, async () => {
    const x = await agentStatus(fleet);
    return x !== undefined && cond(x, 'Ready').status ? x : undefined;
  });
  assert.equal(cond(s, 'Ready').reason, 'Succeeded');
  await waitForHttp(`${fleet.webUrl}/`, 60_000);
  assert.equal((await appAnswer(fleet)).version, 'v1');
});
