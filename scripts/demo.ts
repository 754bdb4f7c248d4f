import { join } from 'node:path';
import { loopBtrfs } from '../devenv/env/btrfs.ts';
import { ensureEnv, waitForHttp } from '../devenv/docker-env.ts';
import { createFleet, removeOwned, startAgent, agentStatus, waitFor } from '../devenv/fleet.ts';
import { run } from '../agent/lib/exec.ts';

/**
 * The README's main job: brings up the local environment (Docker engine, images, registry),
 * puts the appliance's data on btrfs (a loop device), serves a copy of example-config-repo over
 * git http-backend, starts the agent for its demo appliance, waits until the app answers and
 * prints a walkthrough of an update and a rollback. `--exit-when-ready` stops everything after
 * that (for tests); otherwise it runs until Ctrl-C.
 */
// Overrides let a test run the demo beside a running one.
const root = process.env['APPLIANCE_DEMO_DIR'] ?? '/tmp/appliance-demo';
const name = process.env['APPLIANCE_DEMO_NAME'] ?? 'demo';
const webPort = Number(process.env['APPLIANCE_DEMO_WEB_PORT'] ?? 8443);
const httpPort = Number(process.env['APPLIANCE_DEMO_HTTP_PORT'] ?? 8080);
const agentPort = Number(process.env['APPLIANCE_DEMO_AGENT_PORT'] ?? 8700);
const exitWhenReady = process.argv.includes('--exit-when-ready');
const projectRoot = join(import.meta.dirname, '..');
const started = Date.now();
const step = (text: string): void => {
  console.log(`[demo ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${text}`);
};

step('bringing up the environment (Docker engine, images, registry): the first run takes a few minutes');
const env = await ensureEnv((line) => {
  step(line);
});
await removeOwned(env, name);
// A fresh btrfs for every run: the data path's subvolumes and PRE_MIGRATE snapshots are real.
const fsName = `demo-${name}`;
await (await loopBtrfs(fsName, '4G')).down();
const fs = await loopBtrfs(fsName, '4G');
step(`appliance data on btrfs at ${fs.mount} (a loop device)`);
const fleet = await createFleet({
  root,
  env,
  name,
  webPort,
  httpPort,
  agentPort,
  pollSeconds: 5,
  dataPath: fs.mount,
});
step(`config repo served by git http-backend at ${fleet.repoUrl}`);
const cli = join(projectRoot, 'bin', 'appliance.js');
const validate = await run(process.execPath, [
  cli,
  'validate',
  fleet.work,
  '--identity',
  join(root, 'keys', 'operator.agekey'),
]);
step(`appliance validate: ${validate.stdout.trim()}`);
const agent = await startAgent(fleet, env);
step(`agent started (logs: ${agent.logFile}); waiting for the first apply (database, migration, app)`);
try {
  await waitFor('the agent to apply the first revision', 600_000, async () => {
    if (agent.child.exitCode !== null) throw new Error(`the agent exited; see ${agent.logFile}`);
    const s = await agentStatus(fleet);
    return s?.lastAppliedRevision !== undefined;
  });
  const answer = await waitForHttp(`${fleet.webUrl}/`, 60_000);
  step(`the demo app answers through the ingress (HTTPS): ${answer.body.toString().trim()}`);
} catch (err) {
  await agent.stop();
  await fleet.close();
  throw err;
}

const watch = `${join(projectRoot, 'scripts', 'watch-app.sh')} ${fleet.webUrl}/`;
// The ingress's own CA signed the certificate (no ACME for localhost): curl verifies against its root.
const curl = `curl -s --cacert ${fleet.caFile}`;
const sync = `curl -s -X POST -H "X-Hub-Signature-256: sha256=$(printf '' | openssl dgst -sha256 -hmac "$(cat ${root}/keys/webhook-secret)" -r | cut -d' ' -f1)" ${fleet.agentUrl}/sync`;
// Every line indented by seven spaces is a command; the demo's test runs them all in order.
console.log(`
The ${name} appliance runs, managed by the agent.
  app         ${fleet.webUrl}/      (HTTPS through the agent's Caddy ingress, the only thing that
              listens; GET: version and row count; POST /rows adds one)
  certificate ${fleet.caFile}
              (the ingress's own CA: no ACME for localhost; curl --cacert verifies with it)
  status      ${fleet.agentUrl}/status      (also /metrics and /healthz)
  config repo ${fleet.work}  (a clone; 'git push' goes to the repo the agent pulls)
  agent log   ${agent.logFile}

Walk through an update and a rollback, pasting each command:
  1. Add a row (the app counts them):
       ${curl} -X POST ${fleet.webUrl}/rows; echo
  2. Update the app to v2 (it brings a migration) by committing, and ask the agent to sync now
     (without the webhook it polls every 5 s):
       cd ${fleet.work}
       sed -i 's#demo:v1#demo:v2#' appliances/${name}/appliance.yml
       git commit -qam 'Update demo to v2' && git push -q
       ${sync}; echo
  3. Watch it converge: the ingress shows the service page (503, "An update is in progress."),
     the agent stops the app, takes a btrfs PRE_MIGRATE snapshot, migrates, starts v2 and routes
     to it once its health check passed; the watcher prints what users saw and for how long:
       ${watch} v2
       git log --oneline -1; node ${cli} status --url ${fleet.agentUrl}
  4. Roll back with git revert: v2's reverse migration takes the database back, your rows stay:
       git revert --no-edit HEAD && git push -q
       ${sync}; echo
       ${watch} v1

Ctrl-C stops the agent (the app keeps running).`);

if (!exitWhenReady) {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
await agent.stop();
await fleet.close();
