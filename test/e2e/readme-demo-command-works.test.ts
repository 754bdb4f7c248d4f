import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run } from '../../agent/lib/exec.ts';
import { ensureEnv } from '../support/docker-env.ts';
import { removeOwned } from '../support/fleet.ts';
import { fleetRoot, uniqueName } from './helpers.ts';

const root = join(import.meta.dirname, '..', '..');

test("the README's main command brings the demo app up and says how to change it", async (t) => {
  const env = await ensureEnv();
  const name = uniqueName('readme');
  t.after(() => removeOwned(env, name));
  const result = await run('bash', [join(root, 'scripts', 'demo.sh'), '--exit-when-ready'], {
    cwd: root,
    timeoutMs: 900_000,
    env: {
      APPLIANCE_DEMO_DIR: fleetRoot(name),
      APPLIANCE_DEMO_NAME: name,
      APPLIANCE_DEMO_WEB_PORT: '18080',
      APPLIANCE_DEMO_AGENT_PORT: '18700',
    },
  });
  assert.match(result.stdout, /the demo app answers: \{"version": ?"v1"/);
  assert.match(result.stdout, /status +http:\/\/127\.0\.0\.1:18700\/status/);
  assert.match(result.stdout, /git commit -qam/);
});
