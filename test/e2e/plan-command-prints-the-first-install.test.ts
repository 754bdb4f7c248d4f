import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run } from '../../agent/lib/exec.ts';
import { assertGolden } from '../cli/golden.ts';
import { ensureEnv } from '../../devenv/docker-env.ts';
import { CLI_FROM_SOURCE, createFleet } from '../../devenv/fleet.ts';
import { git } from '../../devenv/git-repo.ts';
import { fleetRoot } from '../../devenv/fleet-helpers.ts';

test('appliance plan on a fresh machine prints the first install readably (golden)', async (t) => {
  const env = await ensureEnv();
  // Fixed name, paths and port so the output is stable; nothing is applied.
  const name = 'plangolden';
  const root = fleetRoot(name);
  const fleet = await createFleet({ root, env, name, webPort: 18090 });
  t.after(() => fleet.close());
  const result = await run(
    process.execPath,
    [
      ...CLI_FROM_SOURCE,
      'plan',
      '--repo',
      fleet.work,
      '--name',
      name,
      '--identity',
      join(root, 'keys', 'appliance.agekey'),
      '--state-dir',
      fleet.stateDir,
    ],
    { env: { DOCKER_HOST: env.dockerHost }, okCodes: [3] },
  );
  assert.equal(result.exitCode, 3, 'exit 3: there are changes');
  const revision = await git(fleet.work, ['rev-parse', 'HEAD']);
  const text = result.stdout
    .replaceAll(revision, '<revision>')
    .replaceAll(revision.slice(0, 12), '<revision>')
    .replaceAll(root, '<root>');
  assert.doesNotMatch(text, new RegExp(env.registry.password));
  await assertGolden('plan-first-install.txt', text);
});
