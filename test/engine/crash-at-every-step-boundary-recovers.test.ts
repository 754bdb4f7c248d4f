import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DesiredState } from '../../agent/core/desired.ts';
import { loopBtrfs, type LoopBtrfs } from '../../devenv/env/btrfs.ts';
import { httpRequest, publishedPort, TEST_LABEL } from '../../devenv/docker-env.ts';
import { containersOf, makeStack, oneOffsOf, withDemoCommands, type Stack } from '../../devenv/engine-stack.ts';

// The update flow (v1 → v2 with a migration) and the rollback flow (a revert v2 → v1 with
// reverse migrations) are each killed with SIGKILL after every journal transition in turn (a
// step starting, a step done, the commit point, a commit), in a child process; the agent is
// then started again on the same revision. Each time the app must end on exactly one version
// (the new one and healthy, or the old one) with every row written before.
const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-runner.ts');
let fs: LoopBtrfs;
let s: Stack;
let rows = 0;

before(async () => {
  fs = await loopBtrfs('crash-matrix', '2G');
  const root = path.join(fs.mount, 'data');
  await rm(root, { recursive: true, force: true });
  s = await makeStack('rc-crash', { seedSchema: false, dataDir: path.join(root, 'postgresql') });
});
after(async () => {
  await s.cleanup();
  await fs.down();
});

function demo(version: string): DesiredState {
  return withDemoCommands(s.desired({ webImage: s.env.images[`demo:${version}`] ?? '' }));
}

async function web(): Promise<{ version: string; rows: number; healthy: boolean }> {
  const port = await publishedPort(s.env, `${s.owner}-web`, 8080);
  const root = JSON.parse((await httpRequest(`http://127.0.0.1:${port}/`)).body.toString()) as {
    version: string;
    rows: number;
  };
  const health = await httpRequest(`http://127.0.0.1:${port}/healthz`);
  return { ...root, healthy: health.status === 200 };
}

async function addRow(): Promise<void> {
  const port = await publishedPort(s.env, `${s.owner}-web`, 8080);
  assert.equal((await httpRequest(`http://127.0.0.1:${port}/rows`, { method: 'POST' })).status, 201);
  rows++;
}

/** Runs the apply of `desired` in a child that kills itself after transition `crashAt` (0: never). */
async function runChild(desired: DesiredState, crashAt: number): Promise<{ signal: string | null; out: string }> {
  const input = path.join(s.stateDir, '..', 'crash-input.json');
  const registries = [
    { serveraddress: s.env.registry.url, username: s.env.registry.username, password: s.env.registry.password },
  ];
  await writeFile(
    input,
    JSON.stringify({
      desired,
      stateDir: s.stateDir,
      socketPath: s.env.socketPath,
      labels: { [TEST_LABEL]: s.label },
      registries,
      crashAt,
    }),
    { mode: 0o600 },
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', runner, input], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      resolve({ signal, out });
    });
  });
}

/** The app runs exactly one version, healthy when it is `healthyIf`, with every row. */
async function checkOneVersion(healthyIf: string, why: string): Promise<string> {
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`], why);
  assert.deepEqual(await oneOffsOf(s.env, s.owner), [], `${why}: one-off containers left`);
  const now = await web();
  assert.ok(now.version === 'v1' || now.version === 'v2', why);
  assert.equal(now.rows, rows, `${why}: rows lost`);
  if (now.version === healthyIf) assert.ok(now.healthy, `${why}: ${now.version} is not healthy`);
  const journal = JSON.parse(await readFile(path.join(s.stateDir, 'journal.json'), 'utf8')) as { status: string };
  assert.ok(['applied', 'rolled-back'].includes(journal.status), `${why}: journal ${journal.status}`);
  return now.version;
}

async function transitions(desired: DesiredState): Promise<string[]> {
  const keys: string[] = [];
  const result = await s.apply(desired, { journal: { onTransition: (k) => keys.push(k) } });
  assert.equal(result.applied, true, JSON.stringify(result.error));
  return keys;
}

test('SIGKILL at every step boundary of the update and of the rollback: one version, every row', async () => {
  assert.equal((await s.apply(demo('v1'))).applied, true);
  for (let i = 0; i < 3; i++) await addRow();
  const update = await transitions(demo('v2'));
  await addRow();
  const rollback = await transitions(demo('v1'));
  assert.ok(update.includes('app.migrate:web=started') && update.includes('status=committing'), update.join(' '));
  assert.ok(rollback.includes('app.reverse-migrate:web=done'), rollback.join(' '));
  // After `applied` there is nothing left to recover.
  const points = (keys: string[]): number[] =>
    keys.map((_, i) => i + 1).filter((i) => keys[i - 1] !== 'status=applied');
  const flows = [
    { name: 'update', keys: update, points: points(update), to: 'v2' },
    { name: 'rollback', keys: rollback, points: points(rollback), to: 'v1' },
  ];
  const outcomes: string[] = [];
  // The flows alternate: each restart ends on its target version (the revision is applied
  // again after recovery), which is the start of the other flow, so no reset is needed.
  for (let k = 0; k < Math.max(...flows.map((f) => f.points.length)); k++) {
    for (const flow of flows) {
      const at = flow.points[k] ?? flow.points[flow.points.length - 1] ?? 1;
      const why = `${flow.name} killed after ${flow.keys[at - 1] ?? '?'} (#${at})`;
      await addRow();
      const started = Date.now();
      const crashed = await runChild(demo(flow.to), at);
      assert.equal(crashed.signal, 'SIGKILL', `${why}: the child was not killed\n${crashed.out}`);
      assert.ok(
        crashed.out.includes(`transition ${at} ${flow.keys[at - 1] ?? ''}`),
        `${why}: another flow\n${crashed.out}`,
      );
      const restarted = await s.apply(demo(flow.to));
      assert.equal(restarted.applied, true, `${why}: restart: ${JSON.stringify(restarted.error)}`);
      const version = await checkOneVersion(flow.to, why);
      outcomes.push(
        `${why}: ${restarted.recovery?.outcome ?? 'nothing to recover'} → ${version} (${Date.now() - started} ms)`,
      );
    }
  }
  process.stderr.write(`${outcomes.join('\n')}\n`);
  assert.equal(outcomes.length, 2 * Math.max(...flows.map((f) => f.points.length)));
});

test('a failed update killed while rolling back finishes the rollback on restart and is not retried', async () => {
  if ((await s.idOf('web')) === undefined) assert.equal((await s.apply(demo('v1'))).applied, true);
  assert.equal((await web()).version, 'v1');
  await addRow();
  const failing = withDemoCommands(s.desired({ webImage: s.env.images['demo:v3'] ?? '' }));
  const keys: string[] = [];
  const first = await s.apply(failing, { journal: { onTransition: (k) => keys.push(k) } });
  assert.equal(first.error?.code, 'MigrationFailed');
  const at = keys.indexOf('status=rolling-back') + 1;
  assert.ok(at > 0, keys.join(' '));
  const crashed = await runChild(failing, at);
  assert.equal(crashed.signal, 'SIGKILL', crashed.out);
  const restarted = await s.apply(failing);
  assert.equal(restarted.applied, false);
  assert.equal(restarted.recovery?.outcome, 'rolled-back');
  assert.equal(restarted.error?.code, 'MigrationFailed');
  assert.equal(restarted.error.terminal, true);
  assert.deepEqual(restarted.changeSet, [], 'the failed revision is not tried again');
  assert.equal(await checkOneVersion('v1', 'after the interrupted rollback'), 'v1');
});
