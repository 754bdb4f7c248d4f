import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentStatus } from '../../agent/core/status.ts';

const projectRoot = join(import.meta.dirname, '..', '..');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A bootstrap file whose repository is a closed loopback port: every cycle fails at once, no Docker needed. */
async function bootstrap(dir: string, trust: string, listen = '127.0.0.1:0'): Promise<string> {
  const identity = join(dir, 'age.key');
  await copyFile(join(projectRoot, 'test', 'fixtures', 'keys', 'demo.agekey'), identity);
  await chmod(identity, 0o600);
  const file = join(dir, 'bootstrap.yml');
  const lines = ['name: demo', 'repo: { url: "http://127.0.0.1:9/none.git" }', `age_identity_file: ${identity}`];
  lines.push(`state_dir: ${join(dir, 'state')}`, `listen: ${listen}`, 'poll_interval_seconds: 3600', trust, '');
  await writeFile(file, lines.join('\n'));
  return file;
}

function agent(config: string, once: boolean) {
  const child = spawn(
    process.execPath,
    [join(projectRoot, 'bin', 'appliance.js'), 'agent', '--config', config, ...(once ? ['--once'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, output: () => out };
}

test('an agent without trusted signers and without allow_unsigned does not start', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trust-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const run = agent(await bootstrap(dir, 'trust: { allow_rewind: false }'), true);
  assert.equal(await run.exited, 1, 'an invalid configuration: exit 1 (see the exit-code table)');
  assert.match(run.output(), /\/trust: needs signers .*allow_unsigned: true/);
});

test('allow_unsigned warns at start and in /status; status.json is 0600', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trust-'));
  const port = await freePort();
  const run = agent(await bootstrap(dir, 'trust: { allow_unsigned: true }', `127.0.0.1:${port}`), false);
  // One hook, the agent first: it writes its state until it exits, and a failing hook skips the later
  // ones (a removal racing its status ref left the agent running and the suite waiting for it).
  t.after(async () => {
    run.child.kill('SIGTERM');
    await run.exited;
    await rm(dir, { recursive: true, force: true });
  });
  let status: AgentStatus | undefined;
  for (let i = 0; i < 100 && status?.lastCycleFinishedAt === undefined; i += 1) {
    await new Promise((r) => setTimeout(r, 200));
    status = await fetch(`http://127.0.0.1:${port}/status`)
      .then((r) => r.json() as Promise<AgentStatus>)
      .catch(() => undefined);
  }
  assert.ok(status !== undefined, run.output());
  assert.equal(status.warnings?.[0]?.code, 'UnsignedCommitsAllowed');
  assert.match(status.warnings[0].message, /without signature checks/);
  assert.match(run.output(), /"level":"warn".*"path":"\/trust\/allow_unsigned".*without signature checks/);
  const file = join(dir, 'state', 'status.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((JSON.parse(await readFile(file, 'utf8')) as AgentStatus).appliance, 'demo');
});
