import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, reasonIsPainted, visit } from '../../devenv/browser.ts';
import { ensureEnv, type EnvInfo } from '../../devenv/docker-env.ts';
import { createFleet, removeOwned, startAgent, type AgentProcess, type Fleet } from '../../devenv/fleet.ts';
import { git } from '../../devenv/git-repo.ts';
import { appAnswer, cond, fleetRoot, uniqueName, waitForCycleOn, webhook } from '../../devenv/fleet-helpers.ts';

// The operator's path: a commit sets service_mode in appliance.yml, the agent's cycle applies
// it, and a browser on the appliance's HTTPS port shows the page with the operator's message.
const name = uniqueName('e2e-manual');
const MESSAGE = 'Moving to new hardware until 18:00 UTC.';
let env: EnvInfo;
let fleet: Fleet;
let agent: AgentProcess;
let browser: Browser;

before(async () => {
  env = await ensureEnv();
  fleet = await createFleet({ root: fleetRoot(name), env, name, pollSeconds: 3600 });
  agent = await startAgent(fleet, env);
  browser = await launchBrowser();
});

after(async () => {
  await browser.close();
  await agent.stop();
  await removeOwned(env, name);
  await fleet.close();
});

test('a service_mode commit puts the page with its message in the browser; the next commit takes it away', async (t) => {
  const first = await git(fleet.work, ['rev-parse', 'HEAD']);
  await waitForCycleOn(fleet, first, (x) => x.lastAppliedRevision === first, 300_000);
  assert.equal((await appAnswer(fleet)).version, 'v1');

  const on = await fleet.commit('Service mode for the move', async (f) => {
    await f.appliance((doc) => {
      doc.setIn(['service_mode'], doc.createNode({ enabled: true, message: MESSAGE }));
    });
  });
  assert.equal(await webhook(fleet), 202);
  const s = await waitForCycleOn(fleet, on, (x) => x.lastAppliedRevision === on);
  assert.equal(cond(s, 'Ready').status, true);
  const url = `${fleet.webUrl}/some/page`;
  const seen = await visit(browser, url, { ignoreHTTPSErrors: true, screenshot: 'service-page-manual-commit' });
  t.diagnostic(`screenshot: ${seen.screenshotFile ?? ''}`);
  assert.equal(seen.status, 503);
  assert.equal(seen.headers['retry-after'], '300');
  assert.match(seen.text, /Service not available/);
  assert.ok(seen.text.includes(MESSAGE), seen.text);
  assert.ok(seen.screenshot);
  const painted = await reasonIsPainted(browser, url, seen.screenshot, MESSAGE);
  assert.ok(painted.ink > 100, 'the message is painted on the screenshot');
  assert.equal(painted.below, 0, 'and the page below it is blank');

  const off = await fleet.commit('Service mode off', async (f) => {
    await f.appliance((doc) => {
      doc.setIn(['service_mode', 'enabled'], false);
    });
  });
  assert.equal(await webhook(fleet), 202);
  await waitForCycleOn(fleet, off, (x) => x.lastAppliedRevision === off);
  assert.equal((await appAnswer(fleet)).version, 'v1', 'the app answers again');
});
