import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DesiredHealthcheck } from '../../../agent/core/desired.ts';
import { DockerClient } from '../../../agent/drivers/docker/client.ts';
import { waitReady } from '../../../agent/drivers/docker/health.ts';
import { docker, ensureEnv, removeLabelled, TEST_LABEL, type EnvInfo } from '../../../devenv/docker-env.ts';

const label = `cmd-health-${process.pid}`;
let env: EnvInfo;
let client: DockerClient;

before(async () => {
  env = await ensureEnv();
  client = new DockerClient({ socketPath: env.socketPath });
});

after(async () => {
  await removeLabelled(env, label);
});

/** A running container whose Docker health check first runs 60 s after the start. */
async function slowlyChecked(cmd: string): Promise<string> {
  const args = ['run', '-d', '--label', `${TEST_LABEL}=${label}`, '--health-cmd', cmd, '--health-interval', '60s'];
  return (await docker(env, [...args, 'appliance-test/debian:bookworm', 'sleep', '600'])).stdout.trim();
}

const check = (cmd: string[]): DesiredHealthcheck => ({
  cmd,
  intervalSeconds: 60,
  timeoutSeconds: 3,
  retries: 3,
  startPeriodSeconds: 0,
});

test('a container whose check command passes is ready at once, not after Docker’s first interval', async () => {
  const id = await slowlyChecked('true');
  const t = performance.now();
  await waitReady(client, id, 'ready-at-once', check(['true']));
  const seconds = (performance.now() - t) / 1000;
  assert.ok(seconds < 5, `ready after ${seconds.toFixed(1)} s`);
  assert.equal(
    (await client.getContainer(id).inspect()).State.Health?.Status,
    'starting',
    'Docker has not checked yet',
  );
});

test('a check command that fails is not taken for ready', async () => {
  const id = await slowlyChecked('false');
  await assert.rejects(
    waitReady(client, id, 'never-ready', check(['false']), AbortSignal.timeout(3000)),
    (err: Error) => err.name === 'TimeoutError' || err.name === 'AbortError',
  );
});
