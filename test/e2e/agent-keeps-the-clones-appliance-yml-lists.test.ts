import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { docker, ensureEnv, httpRequest, ownedContainers, type EnvInfo } from '../../devenv/docker-env.ts';
import { loopBtrfs, type LoopBtrfs } from '../../devenv/env/btrfs.ts';
import {
  agentStatus,
  createFleet,
  removeOwned,
  startAgent,
  waitFor,
  type AgentProcess,
  type Fleet,
} from '../../devenv/fleet.ts';
import { fleetRoot, uniqueName, waitForCycleOn } from '../../devenv/fleet-helpers.ts';

// The agent process following the config repo: a `clones:` entry committed to appliance.yml
// becomes a clone on <clone>.<domain> with its setting; the entry's removal removes it and its data.
const name = uniqueName('cl');
const BANNER = 'QA copy of the e2e';
let env: EnvInfo | undefined;
let fleet: Fleet | undefined;
let agent: AgentProcess | undefined;
let btrfs: LoopBtrfs | undefined;

after(async () => {
  await agent?.stop();
  if (env !== undefined) {
    await removeOwned(env, `${name}-qa`);
    await removeOwned(env, name);
  }
  await fleet?.close();
  await btrfs?.down().catch(() => undefined);
});

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

test('a clone committed to appliance.yml answers on its host and is listed; its removal removes it', async () => {
  env = await ensureEnv();
  btrfs = await loopBtrfs(`cl-${name}`, '2G');
  const dataPath = join(btrfs.mount, 'data');
  const f = await createFleet({ root: fleetRoot(name), env, name, pollSeconds: 2, dataPath });
  fleet = f;
  const main = await f.commit('domain localhost', async (files) => {
    await files.env((doc) => {
      doc.setIn(['domain'], 'localhost');
    });
  });
  agent = await startAgent(f, env);
  await waitForCycleOn(f, main, (s) => s.lastAppliedRevision === main, 300_000);

  const added = await f.commit('a QA clone', async (files) => {
    await files.appliance((doc) => {
      doc.setIn(['clones'], [{ name: 'qa', expires_after: '3d', settings: { DEMO_BANNER: BANNER } }]);
    });
  });
  await waitForCycleOn(f, added, (s) => s.lastAppliedRevision === added);
  const host = 'qa.localhost';
  const url = f.webUrl.replace('localhost', '127.0.0.1');
  const page = await waitFor('the clone on its host', 180_000, async () => {
    const res = await httpRequest(`${url}/`, {
      headers: { Host: host },
      tls: { servername: host },
      timeoutMs: 5000,
    }).catch(() => undefined);
    if (res?.status !== 200) return undefined;
    const body = JSON.parse(res.body.toString()) as { version: string; banner?: string };
    return body.banner === undefined ? undefined : body;
  });
  assert.equal(page.banner, BANNER, 'the entry’s setting over the app’s clone setting');
  const prod = await httpRequest(`${f.webUrl}/`, { timeoutMs: 5000 });
  assert.equal((JSON.parse(prod.body.toString()) as { banner?: string }).banner, undefined, 'production has none');
  const listed = (await agentStatus(f))?.clones ?? [];
  assert.deepEqual(
    listed.map((c) => [c.name, c.state, c.host]),
    [['qa', 'running', host]],
  );
  assert.equal(await exists(join(dataPath, 'clones', 'qa')), true);

  const removed = await f.commit('no clone', async (files) => {
    await files.appliance((doc) => {
      doc.deleteIn(['clones']);
    });
  });
  await waitForCycleOn(f, removed, (s) => s.lastAppliedRevision === removed);
  await waitFor(
    'the clone removed',
    120_000,
    async () =>
      (await ownedContainers(env as EnvInfo, `${name}-qa`, '{{.ID}}')).length === 0 &&
      !(await exists(join(dataPath, 'clones', 'qa'))) &&
      ((await agentStatus(f))?.clones ?? []).length === 0,
  );
  const nets = await docker(env, ['network', 'ls', '-q', '--filter', `label=appliance.owner=${name}-qa`]);
  assert.equal(nets.stdout.trim(), '', 'its networks are gone too');
});
