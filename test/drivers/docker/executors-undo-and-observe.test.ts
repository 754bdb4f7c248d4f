import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DockerClient } from '../../../agent/drivers/docker/client.ts';
import { plan } from '../../../agent/core/plan.ts';
import type { Step } from '../../../agent/core/steps.ts';
import { DockerDriver } from '../../../agent/drivers/docker/driver.ts';
import type { DockerAction } from '../../../agent/drivers/docker/container-recovery.ts';
import type { ExecContext, Executor, Undo } from '../../../agent/core/executors.ts';
import { createLogger } from '../../../agent/lib/log.ts';
import { desiredState, service } from '../../../devenv/desired-builder.ts';
import { docker, ensureEnv, removeLabelled, TEST_LABEL, type EnvInfo } from '../../../devenv/docker-env.ts';

const label = 'rc-driver';
const owner = 'rc-driver-x';
let env: EnvInfo;
let stateDir: string;

before(async () => {
  env = await ensureEnv();
  await removeLabelled(env, label);
  stateDir = await mkdtemp(path.join(tmpdir(), `${label}-`));
});
after(async () => {
  await removeLabelled(env, label);
  await rm(stateDir, { recursive: true, force: true });
});

test('observe sees what the executors made, with labels, spec and health; reverts take it away', async () => {
  const driver = new DockerDriver({
    docker: new DockerClient({ socketPath: env.socketPath }),
    stateDir,
    labels: { [TEST_LABEL]: label },
  });
  await docker(env, [
    'run',
    '-d',
    '--name',
    `${owner}-bystander`,
    '--label',
    `${TEST_LABEL}=${label}`,
    'appliance-test/debian:bookworm',
    'sleep',
    '300',
  ]);
  const desired = desiredState({
    name: owner,
    services: [
      service({
        name: 'sleeper',
        image: 'appliance-test/debian:bookworm',
        command: ['sleep', '300'],
        env: { TOKEN: { secret: 'tok-very-secret-1' } },
        networks: ['default', 'side'],
        healthcheck: { cmd: ['true'], intervalSeconds: 1, timeoutSeconds: 2, retries: 3, startPeriodSeconds: 0 },
      }),
    ],
  });
  const specKey = 'driver-test-key';
  const empty = await driver.observe(owner);
  assert.ok(empty.foreign.containers.includes(`${owner}-bystander`));
  const p = plan(desired, empty, { now: new Date(), specKey });
  assert.deepEqual(
    p.steps.map((s) => s.action),
    ['network.create', 'network.create', 'container.create'],
  );
  const ctx: ExecContext = {
    desired,
    specKey,
    log: createLogger({ level: 'silent' }),
    record: () => Promise.resolve(),
    outputOf: () => undefined,
    now: () => new Date(),
  };
  const undos: Undo[] = [];
  for (const step of p.steps) {
    const exec = driver.executors[step.action as DockerAction] as Executor<Step['action']>;
    const undo = await exec(step, ctx);
    if (undo !== undefined) undos.push(undo);
  }
  // Ready by the agent's own run of the check; Docker reports it after its first interval (1 s).
  let seen = await driver.observe(owner);
  for (let i = 0; i < 50 && seen.containers[0]?.health === 'starting'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    seen = await driver.observe(owner);
  }
  assert.equal(seen.containers.length, 1);
  const c = seen.containers[0];
  assert.ok(c !== undefined);
  assert.equal(c.service, 'sleeper');
  assert.equal(c.state, 'running');
  assert.equal(c.health, 'healthy');
  assert.deepEqual(c.networks, [`${owner}-default`, `${owner}-side`]);
  assert.deepEqual(c.spec?.networks, c.networks);
  assert.ok(!JSON.stringify(c.labels).includes('tok-very-secret-1'));
  assert.deepEqual(seen.networks.map((n) => n.name).sort(), [`${owner}-default`, `${owner}-side`]);
  assert.deepEqual(plan(desired, seen, { now: new Date(), specKey }).steps, [], 'observed state matches desired');

  for (const undo of undos.reverse()) await undo.revert?.();
  const gone = await driver.observe(owner);
  assert.deepEqual([gone.containers, gone.networks], [[], []]);
  assert.ok(gone.foreign.containers.includes(`${owner}-bystander`));
});
