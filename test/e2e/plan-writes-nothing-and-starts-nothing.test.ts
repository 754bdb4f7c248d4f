import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../agent/lib/exec.ts';
import { docker, ensureEnv } from '../../devenv/docker-env.ts';
import { createFleet, removeOwned, type Fleet } from '../../devenv/fleet.ts';
import { fleetRoot, uniqueName } from '../../devenv/fleet-helpers.ts';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'appliance.js');

/** Every file under `dir` with its size and mtime ('' when `dir` does not exist). */
async function listing(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const lines: string[] = [];
  for (const e of entries.sort()) {
    const st = await stat(join(dir, e));
    lines.push(`${e} ${st.size} ${st.mtimeMs}`);
  }
  return lines.join('\n');
}

function cliRun(fleet: Fleet, root: string, command: string, stateDir: string, dockerHost: string) {
  const args = [cli, command, '--repo', fleet.work, '--name', fleet.name];
  args.push('--identity', join(root, 'keys', 'appliance.agekey'), '--state-dir', stateDir);
  return run(process.execPath, args, { env: { DOCKER_HOST: dockerHost }, okCodes: [0, 1, 2, 3] });
}

test('appliance plan writes no state file and starts no container, also where apply would ask', async (t) => {
  const env = await ensureEnv();
  const name = uniqueName('planro');
  const root = fleetRoot(name);
  const fleet = await createFleet({ root, env, name });
  t.after(async () => {
    await removeOwned(env, name);
    await fleet.close();
  });

  // A fresh machine: plan makes no state directory (no spec key).
  const fresh = join(root, 'fresh-state');
  const first = await cliRun(fleet, root, 'plan', fresh, env.dockerHost);
  assert.equal(first.exitCode, 3, first.stderr);
  assert.equal(await listing(fresh), '');
  await assert.rejects(stat(fresh));

  // Running v1, then the repo asks for v2: apply would ask v2 for its migration status in a
  // one-off container; plan must not.
  const applied = await cliRun(fleet, root, 'apply', fleet.stateDir, env.dockerHost);
  assert.equal(applied.exitCode, 0, applied.stdout + applied.stderr);
  const v2 = env.images['demo:v2'] ?? '';
  await fleet.commit('web v2', (f) =>
    f.appliance((doc) => {
      doc.setIn(['images', 'web'], v2);
    }),
  );
  // v2 on the machine (pulled by hand), so that only the read-only rule keeps plan from asking it.
  await docker(env, ['pull', v2]);
  const before = await listing(fleet.stateDir);
  // Fractional seconds: apply's own one-off (recording the migration state) ended just before.
  const since = (Date.now() / 1000).toFixed(3);
  const planned = await cliRun(fleet, root, 'plan', fleet.stateDir, env.dockerHost);
  const until = (Date.now() / 1000 + 1).toFixed(3);
  assert.equal(planned.exitCode, 3, planned.stdout + planned.stderr);
  assert.match(
    planned.stdout,
    /migration status unknown \(not asked: .*demo.* would have to run\); asked at apply time/,
  );
  assert.equal(await listing(fleet.stateDir), before, 'plan changed the state directory');
  const created = await docker(env, [
    ...['events', '--since', since, '--until', until],
    ...['--filter', 'type=container', '--filter', 'event=create', '--format', '{{.Actor.Attributes.name}}'],
  ]);
  assert.equal(created.stdout.trim(), '', `plan created containers: ${created.stdout}`);
});
