import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerClient } from '../../../agent/drivers/docker/client.ts';
import { isAgentError } from '../../../agent/core/errors.ts';
import { DockerDriver } from '../../../agent/drivers/docker/driver.ts';

test('an engine that cannot be reached gives DockerUnavailable, which is not terminal', async () => {
  const driver = new DockerDriver({
    docker: new DockerClient({ socketPath: '/nonexistent/docker.sock' }),
    stateDir: '/nonexistent',
  });
  await assert.rejects(driver.observe('nobody'), (err: unknown) => {
    assert.ok(isAgentError(err, 'DockerUnavailable'), String(err));
    assert.equal(err.terminal, false);
    return true;
  });
});
