import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../agent/lib/exec.ts';
import { ensureEnv } from '../../devenv/docker-env.ts';
import { removeOwned, removeTestDir, waitFor } from '../../devenv/fleet.ts';
import { fleetRoot, uniqueName } from '../../devenv/fleet-helpers.ts';

const root = join(import.meta.dirname, '..', '..');

test("the README's main command brings the demo up, and every step of its printed walkthrough works", async (t) => {
  const env = await ensureEnv();
  const name = uniqueName('readme');
  const demoDir = fleetRoot(name);
  const demo = spawn('bash', [join(root, 'scripts', 'demo.sh')], {
    cwd: root,
    env: {
      ...process.env,
      APPLIANCE_DEMO_DIR: demoDir,
      APPLIANCE_DEMO_NAME: name,
      APPLIANCE_DEMO_WEB_PORT: '18443',
      APPLIANCE_DEMO_HTTP_PORT: '18080',
      APPLIANCE_DEMO_AGENT_PORT: '18700',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  demo.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  demo.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
  t.after(async () => {
    if (demo.exitCode === null) demo.kill('SIGINT');
    await exited;
    await removeOwned(env, name);
    await run('bash', [join(root, 'devenv', 'env', 'btrfs.sh'), 'down', `demo-${name}`]);
    await removeTestDir(demoDir);
  });

  await waitFor('the demo to print its walkthrough', 900_000, () => {
    if (demo.exitCode !== null) throw new Error(`the demo exited ${demo.exitCode}:\n${out}`);
    return Promise.resolve(out.includes('Ctrl-C stops the agent'));
  });
  assert.match(out, /\[demo +\d+s\] \[env /, 'the environment steps are shown as they happen');
  assert.match(out, /the demo app answers through the ingress \(HTTPS\): \{"version": ?"v1"/);
  assert.match(out, /status +http:\/\/127\.0\.0\.1:18700\/status/);
  assert.match(out, /appliance data on btrfs at /);

  // Exactly what a person pastes: every command line of the walkthrough, in order.
  const commands = out
    .split('\n')
    .filter((l) => /^ {7}\S/.test(l))
    .map((l) => l.trim());
  assert.ok(commands.length >= 10, commands.join('\n'));
  const walk = await run('bash', ['-c', ['set -euo pipefail', ...commands].join('\n')], {
    cwd: root,
    timeoutMs: 600_000,
    env: { WATCH_TIMEOUT_SECONDS: '300' },
    okCodes: Array.from({ length: 256 }, (_, i) => i),
  });
  t.diagnostic(walk.stdout);
  assert.equal(walk.exitCode, 0, `${walk.stdout}\n${walk.stderr}`);
  assert.match(walk.stdout, /"rows": ?1\b/, 'step 1 added a row');
  assert.match(walk.stdout, /\] service page \(503\): An update is in progress\./, 'users saw the page');
  assert.doesNotMatch(walk.stdout, /not answering/, 'never a connection error');
  assert.match(walk.stdout, /\] v2, 1 rows \(the app was away for [\d.]+ s\)/, 'v2 runs with the row');
  assert.match(walk.stdout, /^applied revision +[0-9a-f]{12}/m, 'appliance status shows the revision');
  assert.match(walk.stdout, /\] v1, 1 rows/, 'after git revert v1 runs, the row kept');

  const agentLog = await readFile(join(demoDir, 'agent.log'), 'utf8');
  assert.match(agentLog, /"driver":"btrfs"[^\n]*"msg":"snapshot taken"|"msg":"snapshot taken"[^\n]*"driver":"btrfs"/);
  demo.kill('SIGINT');
  assert.equal(await exited, 0, out);
});
