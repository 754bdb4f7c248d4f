import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../agent/lib/exec.ts';

const root = path.join(import.meta.dirname, '..', '..');
const cli = path.join(root, 'bin', 'appliance.js');
const key = path.join(root, 'test', 'fixtures', 'keys', 'demo.agekey');

async function appliance(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [cli, ...args], { env, okCodes: [0, 1, 2, 3, 64] });
}

/** A copy of the example repo; `edit` changes the demo's appliance.yml text. */
async function exampleCopy(t: { after: (fn: () => Promise<void>) => void }, edit = (s: string) => s) {
  const dir = await mkdtemp(path.join(tmpdir(), 'ops-exit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const repo = path.join(dir, 'repo');
  await cp(path.join(root, 'example-config-repo'), repo, { recursive: true });
  const file = path.join(repo, 'appliances', 'demo', 'appliance.yml');
  await writeFile(file, edit(await readFile(file, 'utf8')));
  return { dir, repo };
}

test('usage errors exit 64: unknown command or option, --repo/--name missing without a bootstrap file', async (t) => {
  assert.equal((await appliance(['no-such-command'])).exitCode, 64);
  assert.equal((await appliance(['plan', '--no-such-option'])).exitCode, 64);
  assert.equal((await appliance(['backup', 'list', '--repo'])).exitCode, 64);
  const noBootstrap = await stat('/etc/appliance/bootstrap.yml').then(
    () => false,
    () => true,
  );
  if (!noBootstrap) t.diagnostic('/etc/appliance/bootstrap.yml exists: the missing-bootstrap case is not checked');
  else {
    const r = await appliance(['plan']);
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /needs --repo and --name, or a bootstrap file/);
  }
  const help = await appliance(['--help']);
  assert.equal(help.exitCode, 0);
  assert.match(help.stdout, /Exit codes \(every command\):\n {2}0 {3}ok\n {2}1 {3}invalid config/);
});

test('invalid config exits 1: appliance.yml, and the bootstrap file', async (t) => {
  const { dir, repo } = await exampleCopy(t, (s) => `${s}polices: {}\n`);
  const args = ['--repo', repo, '--name', 'demo', '--identity', key, '--state-dir', path.join(dir, 'state')];
  for (const command of [['plan'], ['apply'], ['backup', 'list']]) {
    const r = await appliance([...command, ...args]);
    assert.equal(r.exitCode, 1, `${command.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /unknown key 'polices'/);
  }
  const bad = path.join(dir, 'bootstrap.yml');
  await writeFile(bad, 'name: Not_Valid\n');
  const r = await appliance(['plan', '--config', bad]);
  assert.equal(r.exitCode, 1, r.stderr);
});

test('an unreachable Docker engine exits 2', async (t) => {
  const { dir, repo } = await exampleCopy(t);
  const args = ['--repo', repo, '--name', 'demo', '--identity', key, '--state-dir', path.join(dir, 'state')];
  const env = { DOCKER_HOST: `unix://${path.join(dir, 'no-docker.sock')}` };
  for (const command of ['plan', 'apply']) {
    const r = await appliance([command, ...args], env);
    assert.equal(r.exitCode, 2, `${command}: ${r.stdout}${r.stderr}`);
  }
  // On an appliance the engine's address can come from the bootstrap file instead (a closed
  // TCP port here: refused, where the default socket would be missing).
  const boot = path.join(dir, 'bootstrap.yml');
  await writeFile(
    boot,
    `name: demo\nrepo: { url: "http://127.0.0.1:9/x.git" }\nage_identity_file: ${key}\ndocker_host: tcp://127.0.0.1:9\ntrust: { allow_unsigned: true }\n`,
  );
  const r = await appliance(['plan', '--config', boot, '--repo', repo, '--state-dir', path.join(dir, 'state')]);
  assert.equal(r.exitCode, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /ECONNREFUSED/);
});
