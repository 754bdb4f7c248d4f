import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PreflightView } from '../../agent/core/preflight.ts';
import { docker, ensureEnv, httpRequest, type EnvInfo } from '../../devenv/docker-env.ts';
import { loopBtrfs, type LoopBtrfs } from '../../devenv/env/btrfs.ts';
import { startFakeForge, type FakeForge, type ForgeCall } from '../../devenv/fake-forge.ts';
import {
  agentStatus,
  createFleet,
  removeOwned,
  startAgent,
  waitFor,
  type AgentProcess,
  type Fleet,
} from '../../devenv/fleet.ts';
import { appAnswer, containerIds, fleetRoot, uniqueName, waitForCycleOn } from '../../devenv/fleet-helpers.ts';
import { git } from '../../devenv/git-repo.ts';
import { createSshSigner, type Signer } from '../../devenv/signers.ts';

// The demo appliance following pull requests: a v1 → v2 bump is tried on a clone of production's
// data and reported with its migration time, a v3 bump (a failing migration) is reported with the
// migration's error, an unsigned head is not tried; production is left exactly as it was.
const name = uniqueName('pf');
const TOKEN = 'forge-token-of-the-preflight-e2e';
let env: EnvInfo | undefined;
let fleet: Fleet | undefined;
let forge: FakeForge | undefined;
let agent: AgentProcess | undefined;
let btrfs: LoopBtrfs | undefined;
let signer: Signer | undefined;

after(async () => {
  await agent?.stop();
  if (env !== undefined) {
    await removeOwned(env, name);
    for (const line of (await docker(env, ['ps', '-a', '--format', '{{.Label "appliance.owner"}}'])).stdout.split('\n'))
      if (line.startsWith(`${name}-`)) await removeOwned(env, line);
  }
  await fleet?.close();
  await forge?.stop();
  await signer?.dispose();
  await btrfs?.down().catch(() => undefined);
});

/** Commits the work clone's state on top of main and pushes it to `ref` only (main stays). */
async function propose(f: Fleet, ref: string, web: string, signed: boolean): Promise<string> {
  await git(f.work, ['checkout', '-q', '--detach', 'main']);
  const file = join(f.work, 'appliances', name, 'appliance.yml');
  await writeFile(file, (await readFile(file, 'utf8')).replace(/demo:v\d/, `demo:${web}`));
  await git(f.work, ['add', '-A']);
  await git(f.work, ['-c', `commit.gpgsign=${String(signed)}`, 'commit', '-q', '-m', `web ${web}`]);
  const head = await git(f.work, ['rev-parse', 'HEAD']);
  await git(f.work, ['push', '-q', 'origin', `${head}:${ref}`]);
  await git(f.work, ['checkout', '-q', 'main']);
  return head;
}

function statusesOn(sha: string): Record<string, string>[] {
  return (forge?.calls ?? [])
    .filter((c: ForgeCall) => c.path.endsWith(`/statuses/${sha}`))
    .map((c) => c.body as Record<string, string>);
}

function finalStatus(sha: string, timeoutMs: number): Promise<Record<string, string>> {
  return waitFor(`the pre-flight status on ${sha.slice(0, 8)}`, timeoutMs, () =>
    Promise.resolve(statusesOn(sha).find((b) => b['state'] !== 'pending')),
  );
}

test('pull requests are tried on a clone and reported; production is untouched', async () => {
  env = await ensureEnv();
  forge = await startFakeForge({ token: TOKEN });
  btrfs = await loopBtrfs(`pf-${name}`, '3G');
  signer = await createSshSigner();
  const f = await createFleet({
    root: fleetRoot(name),
    env,
    name,
    pollSeconds: 3,
    dataPath: join(btrfs.mount, 'data'),
  });
  fleet = f;
  // Signed commits only, as on a real appliance: the work clone signs with an SSH key the agent trusts.
  for (const [k, v] of [
    ['gpg.format', 'ssh'],
    ['user.signingkey', signer.gitConfig[3]?.replace('user.signingkey=', '') ?? ''],
    ['commit.gpgsign', 'true'],
  ])
    await git(f.work, ['config', k ?? '', v ?? '']);
  const bootstrap = await readFile(f.bootstrapFile, 'utf8');
  await writeFile(
    f.bootstrapFile,
    bootstrap.replace(
      'trust: { allow_unsigned: true }',
      `trust: { signers: [{ name: ops, ssh: '${signer.publicKey}' }] }`,
    ),
    { mode: 0o600 },
  );
  const apiUrl = forge.apiUrl('github');
  const main = await f.commit('Pre-flight pull requests', async (files) => {
    await files.env((doc) => {
      doc.setIn(['forge'], { kind: 'github', api_url: apiUrl, repository: 'acme/fleet', token: TOKEN });
    });
    await files.appliance((doc) => {
      doc.setIn(['preflight'], { refs: ['refs/pull/*/head'] });
    });
  });
  agent = await startAgent(f, env);
  await waitForCycleOn(f, main, (s) => s.lastAppliedRevision === main, 300_000);
  await waitFor('the pre-flight baseline', 60_000, async () =>
    (await readFile(join(f.stateDir, 'preflight', 'preflight.json'), 'utf8').catch(() => '')).includes('baselineAt'),
  );
  for (let i = 0; i < 3; i++) await httpRequest(`${f.webUrl}/rows`, { method: 'POST' });
  const before = { app: await appAnswer(f), containers: await containerIds(env, name) };
  assert.deepEqual(before.app, { version: 'v1', rows: 3 });

  // v1 → v2: migrates on the clone, passes its smoke test.
  const v2 = await propose(f, 'refs/pull/1/head', 'v2', true);
  const passed = await finalStatus(v2, 300_000);
  assert.equal(passed['state'], 'success');
  assert.equal(passed['context'], `appliance/${name}/preflight`);
  assert.match(passed['description'] ?? '', /^Passed: migration \d+\.\d s \(downtime\); smoke test: smoke ok$/);
  assert.deepEqual(
    statusesOn(v2).map((b) => b['state']),
    ['pending', 'success'],
  );
  const call = forge.calls.find((c) => c.path.endsWith(v2));
  assert.ok(call !== undefined);
  assert.equal(call.method, 'POST');
  assert.equal(call.path, `/repos/acme/fleet/statuses/${v2}`);
  assert.equal(call.auth, `Bearer ${TOKEN}`);

  // v3: its migration fails on the clone; the status says how.
  const v3 = await propose(f, 'refs/pull/2/head', 'v3', true);
  const failed = await finalStatus(v3, 300_000);
  assert.equal(failed['state'], 'failure');
  assert.match(failed['description'] ?? '', /^Failed: migration: .*division by zero$/);

  // Unsigned: not tried, and said so.
  const unsigned = await propose(f, 'refs/pull/3/head', 'v2', false);
  const refused = await finalStatus(unsigned, 120_000);
  assert.equal(refused['state'], 'failure');
  assert.match(refused['description'] ?? '', new RegExp(`^Not tried: commit ${unsigned} is not signed`));

  const status = await agentStatus(f);
  const views: PreflightView[] = status?.preflight ?? [];
  const v2View = views.find((v) => v.commit === v2);
  assert.ok(v2View?.result === 'passed' && (v2View.migrationMs ?? 0) > 0, JSON.stringify(views));
  assert.match(v2View.smokeTail ?? '', /smoke ok/);
  assert.equal(views.find((v) => v.commit === v3)?.result, 'failed');
  assert.equal(views.find((v) => v.commit === unsigned)?.result, 'not-tried');

  // Production: same containers, same version, same rows; no clone left behind.
  assert.deepEqual(await appAnswer(f), before.app);
  assert.deepEqual(await containerIds(env, name), before.containers);
  assert.equal(status?.lastAppliedRevision, main);
  const owners = (await docker(env, ['ps', '-a', '--format', '{{.Label "appliance.owner"}}'])).stdout.split('\n');
  assert.deepEqual(
    owners.filter((o) => o.startsWith(`${name}-`)),
    [],
    'the pre-flight clones are removed',
  );
  const cloneDirs = await readdir(join(btrfs.mount, 'data', 'clones')).catch(() => []);
  assert.deepEqual(
    cloneDirs.filter((d) => d.startsWith('pf-')),
    [],
    'with their data',
  );
});
