import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerClient } from '../../../agent/drivers/docker/client.ts';
import { isAgentError } from '../../../agent/core/errors.ts';
import { pullImage, pullTarget, registryOf } from '../../../agent/drivers/docker/pull.ts';
import { ensureEnv } from '../../../devenv/docker-env.ts';

test('references split into registry, repository and tag or digest', () => {
  assert.equal(registryOf('127.0.0.1:5000/demo@sha256:ab'), '127.0.0.1:5000');
  assert.equal(registryOf('postgres:15'), 'docker.io');
  assert.equal(registryOf('library/postgres'), 'docker.io');
  assert.equal(registryOf('localhost/x:1'), 'localhost');
  assert.deepEqual(pullTarget('127.0.0.1:5000/demo:v1@sha256:ab'), {
    fromImage: '127.0.0.1:5000/demo',
    tag: 'sha256:ab',
  });
  assert.deepEqual(pullTarget('127.0.0.1:5000/demo'), { fromImage: '127.0.0.1:5000/demo', tag: 'latest' });
  assert.deepEqual(pullTarget('postgres:15'), { fromImage: 'postgres', tag: '15' });
});

test('a pull from the registry needs its credentials, and a failure does not show them', async () => {
  const env = await ensureEnv();
  const docker = new DockerClient({ socketPath: env.socketPath });
  // A tag is resolved by the registry every time (a digest the engine holds is not).
  const ref = '127.0.0.1:5000/debian:bookworm';
  const wrong = { serveraddress: env.registry.url, username: env.registry.username, password: 'wrong-password-123' };
  for (const registries of [[], [wrong]]) {
    await assert.rejects(pullImage(docker, ref, registries), (err: unknown) => {
      assert.ok(isAgentError(err, 'ImagePullFailed'), String(err));
      assert.ok(!JSON.stringify(err.toJSON()).includes('wrong-password-123'));
      assert.ok(!err.message.includes(env.registry.password));
      return true;
    });
  }
  const right = { serveraddress: env.registry.url, username: env.registry.username, password: env.registry.password };
  await pullImage(docker, ref, [right]);
});
