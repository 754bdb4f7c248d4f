import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runFleetStatus } from '../../agent/cli/fleet.ts';
import { runReview } from '../../agent/cli/review.ts';
import { ensureEnv, type EnvInfo } from '../../devenv/docker-env.ts';
import { startFakeForge, type FakeForge } from '../../devenv/fake-forge.ts';
import { createFleet, removeOwned, startAgent, waitFor, type AgentProcess, type Fleet } from '../../devenv/fleet.ts';
import { fleetRoot, uniqueName, waitForCycleOn } from '../../devenv/fleet-helpers.ts';
import { git } from '../../devenv/git-repo.ts';
import { captureIo } from '../cli/golden.ts';

// The agent on the demo, with a forge in env.yml: after its first cycle the forge has the
// commit status and the config repo the status ref, which review and fleet status then read.
const name = uniqueName('report');
const TOKEN = 'forge-token-of-the-e2e-agent';
let env: EnvInfo | undefined;
let fleet: Fleet | undefined;
let forge: FakeForge | undefined;
let agent: AgentProcess | undefined;

after(async () => {
  await agent?.stop();
  if (env !== undefined) await removeOwned(env, name);
  await fleet?.close();
  await forge?.stop();
});

test('the applied commit gets its forge status and status ref; review predicts the v2 update from it', async () => {
  env = await ensureEnv();
  forge = await startFakeForge({ token: TOKEN });
  const f = await createFleet({ root: fleetRoot(name), env, name, pollSeconds: 3600, allowPush: true });
  fleet = f;
  const apiUrl = forge.apiUrl('gitea');
  const head = await f.commit('Report to the forge', async (files) => {
    await files.env((doc) => {
      doc.setIn(['forge'], { kind: 'gitea', api_url: apiUrl, repository: 'acme/fleet', token: TOKEN });
    });
  });
  agent = await startAgent(f, env);
  await waitForCycleOn(f, head, (s) => s.lastAppliedRevision === head, 300_000);

  const fake = forge;
  const call = await waitFor('the commit status', 30_000, () => Promise.resolve(fake.calls.at(0)));
  assert.deepEqual(call, {
    method: 'POST',
    path: `/api/v1/repos/acme/fleet/statuses/${head}`,
    auth: `token ${TOKEN}`,
    body: { state: 'success', context: `appliance/${name}`, description: 'Applied: the appliance runs this revision' },
  });

  const url = f.repoUrl;
  await waitFor('the status ref', 30_000, async () => {
    await git(f.work, ['fetch', '-q', url, '+refs/appliances/*:refs/appliances/*']).catch(() => '');
    return git(f.work, ['rev-parse', '-q', '--verify', `refs/appliances/${name}/status`]).catch(() => false);
  });
  const report = JSON.parse(await git(f.work, ['show', `refs/appliances/${name}/status:status.json`])) as {
    lastAppliedRevision: string;
    images: Record<string, string>;
    migration?: { current?: { imageRef: string } };
  };
  assert.equal(report.lastAppliedRevision, head);
  assert.equal(report.images['web'], '127.0.0.1:5000/demo:v1');
  assert.equal(report.migration?.current?.imageRef, '127.0.0.1:5000/demo:v1');
  const text = await git(f.work, ['show', `refs/appliances/${name}/status:status.json`]);
  assert.ok(!text.includes(TOKEN), 'no secret in the status ref');

  // A pull request bumping v1 → v2, reviewed against what the appliance reported.
  await git(f.work, ['checkout', '-q', '-b', 'bump']);
  const bump = await f.commit('web v2', async (files) => {
    await files.appliance((doc) => {
      doc.setIn(['images', 'web'], '127.0.0.1:5000/demo:v2');
    });
  });
  const io = captureIo();
  await runReview({ repo: f.work, base: head, head: bump }, io);
  assert.equal(io.code, 0, io.err);
  assert.match(io.out, new RegExp(`Predicted against revision ${head.slice(0, 12)}, last reported applied`));
  assert.match(io.out, /Containers replaced: web/);
  assert.match(io.out, /Migration: database migration, PRE_MIGRATE snapshot first/);

  const fleetIo = captureIo();
  await runFleetStatus({ repo: f.work }, fleetIo);
  assert.match(fleetIo.out, new RegExp(`^${name} +${head.slice(0, 12)} +yes `, 'm'));
});
