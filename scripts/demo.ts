import { join } from 'node:path';
import { ensureEnv, waitForHttp } from '../test/support/docker-env.ts';
import { createFleet, removeOwned, startAgent, agentStatus, waitFor } from '../test/support/fleet.ts';
import { run } from '../agent/lib/exec.ts';

/**
 * The README's main job: brings up the local environment (Docker engine, images, registry),
 * serves a copy of example-config-repo over git http-backend, starts the agent for its demo
 * appliance and waits until the app answers. `--exit-when-ready` stops everything after that
 * (for tests); otherwise it runs until Ctrl-C.
 */
// Overrides let a test run the demo beside a running one.
const root = process.env['APPLIANCE_DEMO_DIR'] ?? '/tmp/appliance-demo';
const name = process.env['APPLIANCE_DEMO_NAME'] ?? 'demo';
const webPort = Number(process.env['APPLIANCE_DEMO_WEB_PORT'] ?? 8080);
const agentPort = Number(process.env['APPLIANCE_DEMO_AGENT_PORT'] ?? 8700);
const exitWhenReady = process.argv.includes('--exit-when-ready');
const started = Date.now();
const step = (text: string): void => {
  console.log(`[demo ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${text}`);
};

step('bringing up the environment (Docker engine, images, registry): first run takes a few minutes');
const env = await ensureEnv();
await removeOwned(env, name);
const fleet = await createFleet({ root, env, name, webPort, agentPort, pollSeconds: 5 });
step(`config repo served by git http-backend at ${fleet.repoUrl}`);
const cli = join(import.meta.dirname, '..', 'bin', 'appliance.js');
const validate = await run(process.execPath, [
  cli,
  'validate',
  fleet.work,
  '--identity',
  join(root, 'keys', 'operator.agekey'),
]);
step(`appliance validate: ${validate.stdout.trim()}`);
const agent = await startAgent(fleet, env);
step(`agent started (logs: ${agent.logFile}); waiting for the demo app`);
try {
  await waitFor('the agent to apply the first revision', 600_000, async () => {
    if (agent.child.exitCode !== null) throw new Error(`the agent exited; see ${agent.logFile}`);
    const s = await agentStatus(fleet);
    return s?.lastAppliedRevision !== undefined;
  });
  const answer = await waitForHttp(`${fleet.webUrl}/`, 60_000);
  step(`the demo app answers: ${answer.body.toString().trim()}`);
} catch (err) {
  await agent.stop();
  await fleet.close();
  throw err;
}

console.log(`
The ${name} appliance runs, managed by the agent.
  app         ${fleet.webUrl}/              (GET: version and row count; POST /rows adds one)
  status      ${fleet.agentUrl}/status      (also /metrics and /healthz)
  config repo ${fleet.work}  (a clone; 'git push' goes to the repo the agent pulls)
  agent log   ${agent.logFile}

Change the appliance by committing, and watch it converge (the agent polls every 5 s):
  cd ${fleet.work}
  sed -i 's#demo:v1#demo:v2#' appliances/${name}/appliance.yml
  git commit -qam 'Update demo to v2' && git push -q
  curl -s ${fleet.agentUrl}/status | grep -m3 Revision; curl -s ${fleet.webUrl}/

Or trigger a cycle at once with the webhook (HMAC-SHA256 of the body):
  curl -X POST -H "X-Hub-Signature-256: sha256=$(printf '' | openssl dgst -sha256 -hmac "$(cat ${root}/keys/webhook-secret)" -r | cut -d' ' -f1)" ${fleet.agentUrl}/sync

Roll back with 'git revert HEAD && git push'. Ctrl-C stops the agent (the app keeps running).`);

if (exitWhenReady) {
  await agent.stop();
  await fleet.close();
} else {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await agent.stop();
  await fleet.close();
}
