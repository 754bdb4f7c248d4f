import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decryptEnvFromIdentityFile } from '../../agent/config/decrypt-env.ts';
import { loadDesired, type RepoReader } from '../../agent/config/load.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import { AgentError } from '../../agent/core/errors.ts';
import { commitStatusRequest, sendForgeRequest } from '../../agent/drivers/forge/commit-status.ts';
import { ForgeReporter } from '../../agent/engine/forge-reporter.ts';
import { Preflight, type TrialResult } from '../../agent/engine/preflight.ts';
import { GitSource } from '../../agent/source/index.ts';
import { ReviewSource } from '../../agent/source/review-source.ts';
import { startFakeForge, type FakeForge } from '../../devenv/fake-forge.ts';
import { startGitServer, type GitServer } from '../../devenv/git-server.ts';
import { createBareRepo, git, gitEnv, tempDir } from '../../devenv/git-repo.ts';
import { run } from '../../agent/lib/exec.ts';
import { createGpgSigner, type Signer } from '../../devenv/signers.ts';
import { captureLogs } from '../source/fixture.ts';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'example-config-repo');
const IDENTITY = join(import.meta.dirname, '..', 'fixtures', 'keys', 'demo.agekey');
const TOKEN = 'forge-token-of-the-test';
const APPLIANCE = 'appliances/demo/appliance.yml';

let signer: Signer;
let stranger: Signer;
before(async () => {
  signer = await createGpgSigner('Release Manager');
  stranger = await createGpgSigner('Stranger');
});
after(async () => {
  await Promise.all([signer.dispose(), stranger.dispose()]);
});

interface Setup {
  root: string;
  work: string;
  server: GitServer;
  forge: FakeForge;
  main: string;
  /** Commits on top of main (signed by `by`, unsigned when undefined) and pushes the commit to `ref`. */
  propose(ref: string, files: Record<string, string>, by: Signer | undefined): Promise<string>;
  preflight(trial: (d: DesiredState) => Promise<TrialResult>): Promise<{ p: Preflight; reporter: ForgeReporter }>;
  close(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const root = await tempDir('preflight-heads-');
  const work = join(root, 'work');
  await cp(EXAMPLE, work, { recursive: true });
  const yml = await readFile(join(work, APPLIANCE), 'utf8');
  await writeIn(work, APPLIANCE, `${yml}preflight:\n  refs: [refs/pull/*/head, refs/heads/preflight/*]\n`);
  await git(work, ['init', '-q', '-b', 'main']);
  await git(work, ['add', '-A']);
  await git(work, [...signer.gitConfig, 'commit', '-q', '-S', '-m', 'fleet'], { env: signer.env });
  const main = await git(work, ['rev-parse', 'HEAD']);
  const bare = await createBareRepo(join(root, 'srv'), 'fleet.git');
  await git(work, ['push', '-q', bare, 'main']);
  const server = await startGitServer({ root: join(root, 'srv') });
  const forge = await startFakeForge({ token: TOKEN });
  const logs = captureLogs();
  const url = server.url('fleet.git');
  const trusted = [{ name: 'release', openpgp: signer.publicKey }];
  const { decrypt } = await decryptEnvFromIdentityFile(IDENTITY);
  const load = (reader: RepoReader, revision: string) => loadDesired(reader, 'demo', { decrypt, revision });
  return {
    root,
    work,
    server,
    forge,
    main,
    async propose(ref, files, by) {
      await git(work, ['checkout', '-q', '--detach', main]);
      for (const [f, text] of Object.entries(files)) await writeIn(work, f, text);
      await git(work, ['add', '-A']);
      const sign = by === undefined ? ['commit', '-q', '--no-gpg-sign'] : [...by.gitConfig, 'commit', '-q', '-S'];
      await git(work, [...sign, '-m', `proposal for ${ref}`], { env: by?.env ?? {} });
      const head = await git(work, ['rev-parse', 'HEAD']);
      await git(work, ['push', '-q', bare, `${head}:${ref}`]);
      return head;
    },
    async preflight(trial) {
      // The branch as the agent follows it: the revision in force comes from its own source.
      const source = new GitSource(
        { log: logs.log },
        { url, branch: 'main', stateDir: join(root, 'source'), trustedSigners: trusted },
      );
      const synced = await source.sync();
      const loaded = await load(synced.reader, synced.revision);
      assert.ok(loaded.ok);
      const inForce = { desired: loaded.value, reader: synced.reader };
      const reporter = new ForgeReporter({
        name: 'demo',
        log: logs.log,
        settings: () => ({ kind: 'github', api_url: forge.apiUrl('github'), repository: 'ops/fleet', token: TOKEN }),
        send: (job) => sendForgeRequest(commitStatusRequest(job.forge, job)),
        scrub: (t) => t,
      });
      const p = new Preflight({
        name: 'demo',
        log: logs.log,
        stateDir: join(root, 'preflight'),
        source: new ReviewSource(
          { log: logs.log },
          { url, stateDir: join(root, 'preflight'), trustedSigners: trusted },
        ),
        inForce: () => inForce,
        load,
        trial: (d) => trial(d),
        report: (sha, status) => {
          reporter.preflight(sha, status);
        },
        slot: (fn) => fn(new AbortController().signal),
      });
      return { p, reporter };
    },
    async close() {
      await server.stop();
      await forge.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function writeIn(dir: string, rel: string, text: string): Promise<void> {
  await mkdir(dirname(join(dir, rel)), { recursive: true });
  await writeFile(join(dir, rel), text);
}

function bump(yml: string, version: string): string {
  return yml.replace('127.0.0.1:5000/demo:v1', `127.0.0.1:5000/demo:${version}`);
}

test('a signed head that changes the appliance is tried once; unsigned and untrusted ones get a status saying why', async () => {
  const s = await setup();
  try {
    const yml = await readFile(join(s.work, APPLIANCE), 'utf8');
    const existing = await s.propose('refs/pull/1/head', { [APPLIANCE]: bump(yml, 'v2') }, signer);
    const tried: string[] = [];
    const trial = (d: DesiredState): Promise<TrialResult> => {
      tried.push(`${d.revision} ${d.app.services.find((x) => x.name === 'web')?.image ?? ''}`);
      return Promise.resolve({ migrationMs: 1234, smoke: { exitCode: 0, tail: 'smoke ok\n' } });
    };
    const first = await s.preflight(trial);
    assert.deepEqual(await first.p.scan(), {}, 'the first listing is the baseline: nothing tried');

    const signed = await s.propose('refs/pull/2/head', { [APPLIANCE]: bump(yml, 'v2') }, signer);
    const unsigned = await s.propose('refs/pull/3/head', { [APPLIANCE]: bump(yml, 'v3') }, undefined);
    const foreign = await s.propose('refs/pull/4/head', { [APPLIANCE]: bump(yml, 'v3') }, stranger);
    const otherApp = await s.propose('refs/heads/preflight/ecs', { 'apps/ecs/app.yml': '# changed\n' }, signer);
    const viaApp = await s.propose(
      'refs/heads/preflight/app',
      { 'apps/demo/app.yml': (await readFile(join(s.work, 'apps/demo/app.yml'), 'utf8')) + '# reviewed\n' },
      signer,
    );
    const unmatched = await s.propose('refs/heads/feature', { [APPLIANCE]: bump(yml, 'v2') }, signer);

    const done = await first.p.scan();
    await first.reporter.queue.idle();
    assert.equal(done[existing], undefined, 'a head there before pre-flight looked is not tried');
    assert.equal(done[unmatched], undefined, 'a ref outside the patterns is not followed');
    assert.equal(done[signed]?.result, 'passed');
    assert.equal(done[viaApp]?.result, 'passed', 'a change of the app definition changes the appliance');
    assert.equal(done[otherApp]?.result, 'unchanged');
    assert.equal(done[unsigned]?.result, 'not-tried');
    assert.equal(done[foreign]?.result, 'not-tried');
    assert.deepEqual(tried.sort(), [`${signed} 127.0.0.1:5000/demo:v2`, `${viaApp} 127.0.0.1:5000/demo:v1`].sort());

    const calls = s.forge.calls.map((c) => ({ ...c, sha: c.path.split('/').pop() }));
    for (const c of calls) {
      assert.equal(c.method, 'POST');
      assert.equal(c.path, `/repos/ops/fleet/statuses/${c.sha ?? ''}`);
      assert.equal(c.auth, `Bearer ${TOKEN}`);
      assert.equal((c.body as { context: string }).context, 'appliance/demo/preflight');
    }
    const bodiesOf = (sha: string) => calls.filter((c) => c.sha === sha).map((c) => c.body as Record<string, string>);
    assert.deepEqual(
      bodiesOf(signed).map((b) => [b['state'], b['description']]),
      [
        ['pending', 'Pre-flight running on a clone'],
        ['success', 'Passed: migration 1.2 s (downtime); smoke test: smoke ok'],
      ],
    );
    const [notSigned] = bodiesOf(unsigned);
    assert.equal(notSigned?.['state'], 'failure');
    assert.match(notSigned['description'] ?? '', /^Not tried: commit [0-9a-f]{40} is not signed/);
    assert.match(bodiesOf(foreign)[0]?.['description'] ?? '', /^Not tried: .*is not signed by a trusted key/);
    assert.deepEqual(bodiesOf(otherApp), [], 'a head that does not change this appliance gets no status');
    assert.deepEqual(bodiesOf(existing), []);

    // The branch's own store never holds the review heads.
    const inMain = await run('git', ['--git-dir', join(s.root, 'source', 'repo.git'), 'cat-file', '-e', signed], {
      env: gitEnv(),
      okCodes: [0, 1, 128],
    });
    assert.notEqual(inMain.exitCode, 0);

    // A new agent process with the same state file: nothing is tried twice.
    const again = await s.preflight(trial);
    assert.deepEqual(await again.p.scan(), {});
    assert.equal(tried.length, 2);
  } finally {
    await s.close();
  }
});

test('a head whose trial failed for a transient reason is tried again, a failed one is not', async () => {
  const s = await setup();
  try {
    const yml = await readFile(join(s.work, APPLIANCE), 'utf8');
    const { p } = await s.preflight(() => Promise.reject(new Error('unused')));
    await p.scan();
    const flaky = await s.propose('refs/pull/5/head', { [APPLIANCE]: bump(yml, 'v2') }, signer);
    const broken = await s.propose('refs/pull/6/head', { [APPLIANCE]: bump(yml, 'v3') }, signer);
    const attempts = new Map<string, number>();
    const trial = (d: DesiredState): Promise<TrialResult> => {
      attempts.set(d.revision, (attempts.get(d.revision) ?? 0) + 1);
      if (d.revision === flaky && attempts.get(flaky) === 1)
        return Promise.reject(new AgentError('DockerUnavailable', 'the Docker engine cannot be reached'));
      if (d.revision === broken)
        return Promise.reject(new AgentError('MigrationFailed', 'migration 003_broken failed: division by zero'));
      return Promise.resolve({ migrationMs: 10 });
    };
    const { p: q } = await s.preflight(trial);
    const first = await q.scan();
    assert.equal(first[flaky]?.result, 'retry');
    const failed = first[broken];
    assert.ok(failed !== undefined && failed.result === 'failed');
    assert.match(failed.message, /division by zero/);
    const second = await q.scan();
    assert.equal(second[flaky]?.result, 'passed');
    assert.equal(second[broken], undefined);
    assert.deepEqual(Object.fromEntries(attempts), { [flaky]: 2, [broken]: 1 });
  } finally {
    await s.close();
  }
});
