import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentStatus } from '../../agent/core/status.ts';
import { docker, ensureEnv, httpRequest, waitForHttp, type EnvInfo } from '../../devenv/docker-env.ts';
import {
  agentStatus,
  createFleet,
  removeOwned,
  startAgent,
  waitFor,
  type AgentProcess,
  type Fleet,
} from '../../devenv/fleet.ts';
import { appAnswer, containerIds, fleetRoot, uniqueName, waitForCycleOn, webhook } from '../../devenv/fleet-helpers.ts';

// Appliance A backs up on its schedule through the agent; then it is lost, and a fresh
// appliance B of the same name, with recover_from_backup, comes up serving A's data.
const name = uniqueName('e2e-backup');
const repository = join(fleetRoot(name), '..', `${name}-restic`);
let env: EnvInfo;
let fleetA: Fleet;
let agentA: AgentProcess | undefined;
let fleetB: Fleet | undefined;
let agentB: AgentProcess | undefined;
let rowsAtBackup = 0;

before(async () => {
  env = await ensureEnv();
  await rm(repository, { recursive: true, force: true });
  fleetA = await createFleet({ root: fleetRoot(name), env, name, pollSeconds: 3600 });
  await fleetA.commit('Back up every minute into a test repository', async (f) => {
    await f.env((doc) => {
      doc.setIn(['backup', 'repository'], repository);
    });
    await f.appliance((doc) => {
      doc.setIn(['schedules', 'backup'], '* * * * *');
    });
  });
  agentA = await startAgent(fleetA, env);
});

after(async () => {
  await agentA?.stop();
  await agentB?.stop();
  await removeOwned(env, name);
  await fleetA.close();
  await fleetB?.close();
  await rm(repository, { recursive: true, force: true });
});

test('the agent runs scheduled backups and reports them in /status and /metrics', async () => {
  const head = (await agentStatusWhen(fleetA, (s) => s.lastAppliedRevision !== undefined)).lastAppliedRevision;
  assert.ok(head !== undefined);
  await waitForHttp(`${fleetA.webUrl}/`, 60_000);
  for (let i = 0; i < 3; i++) await httpRequest(`${fleetA.webUrl}/rows`, { method: 'POST' });
  rowsAtBackup = (await appAnswer(fleetA)).rows;
  assert.ok(rowsAtBackup >= 3);
  const afterRows = new Date().toISOString();

  const s = await agentStatusWhen(
    fleetA,
    (x) => (x.backup?.status.lastSuccess?.startedAt ?? '') > afterRows,
    150_000,
    'a scheduled backup after the rows were added',
  );
  const backup = s.backup;
  assert.ok(backup !== undefined);
  assert.equal(backup.configured, true);
  const last = backup.status.lastSuccess;
  assert.ok(last !== undefined);
  assert.equal(last.revision, head);
  assert.ok(last.bytesAdded > 0);
  assert.ok(backup.next.backup !== undefined, 'the next run is shown');
  const missed = s.conditions.find((c) => c.type === 'BackupMissed');
  assert.deepEqual([missed?.status, missed?.reason], [false, 'Fresh']);
  assert.doesNotMatch(JSON.stringify(s), /restic-pass|gfiqETt0/, 'no repository password in /status');

  const metrics = (await httpRequest(`${fleetA.agentUrl}/metrics`)).body.toString();
  assert.match(
    metrics,
    new RegExp(`^appliance_backup_last_success_timestamp_seconds\\{appliance="${name}"\\} \\d+$`, 'm'),
  );
  assert.match(metrics, new RegExp(`^appliance_backup_missed\\{appliance="${name}"\\} 0$`, 'm'));
  assert.match(metrics, /^appliance_condition\{[^}]*type="BackupMissed"[^}]*\} 0$/m);
});

test('a restore held by another process keeps the agent from starting the stopped app', async () => {
  const web = (await containerIds(env, name))['web'] ?? '';
  await docker(env, ['stop', '-t', '1', web]);
  // What `appliance backup restore` holds while it runs: the run lock of a live process.
  const holder = spawn('sleep', ['120'], { stdio: 'ignore' });
  const lock = join(fleetA.stateDir, 'backup', 'run.lock');
  await mkdir(join(fleetA.stateDir, 'backup'), { recursive: true });
  await writeFile(lock, JSON.stringify({ pid: holder.pid, job: 'restore', startedAt: new Date().toISOString() }));
  try {
    const cycles = (await agentStatus(fleetA))?.history.length ?? 0;
    assert.equal(await webhook(fleetA), 202);
    const s = await agentStatusWhen(fleetA, (x) => x.history.length > cycles && x.lastError !== undefined);
    assert.equal(s.lastError?.code, 'RestoreInProgress');
    assert.equal(s.conditions.find((c) => c.type === 'Ready')?.reason, 'RestoreInProgress');
    assert.equal(await running(web), false, 'the stopped app was left stopped');
  } finally {
    holder.kill();
    await rm(lock, { force: true });
  }
  assert.equal(await webhook(fleetA), 202);
  await agentStatusWhen(fleetA, (x) => x.lastError === undefined && x.history[0]?.outcome !== 'failed');
  await waitFor('web running again', 60_000, () => running(web));
});

test('a fresh appliance with recover_from_backup comes up serving the data of the backup', async () => {
  // Appliance A is lost: its agent and containers are gone (its data directory is not reused).
  await agentA?.stop();
  agentA = undefined;
  await removeOwned(env, name);

  const b = await createFleet({ root: `${fleetRoot(name)}-b`, env, name, pollSeconds: 3600 });
  fleetB = b;
  const head = await b.commit('Recover from the backup', async (f) => {
    await f.env((doc) => {
      doc.setIn(['backup', 'repository'], repository);
      doc.setIn(['recover_from_backup'], true);
    });
  });
  agentB = await startAgent(b, env);
  const s = await waitForCycleOn(b, head, (x) => x.lastAppliedRevision === head, 300_000);
  const plan = JSON.stringify(s.lastPlan);
  assert.match(plan, /data\.recover/, 'the first plan recovered the data');
  await waitForHttp(`${b.webUrl}/`, 60_000);
  assert.equal((await appAnswer(b)).rows, rowsAtBackup, "B serves A's rows");
  assert.match(await readFile(agentB.logFile, 'utf8'), /recovered the appliance from its latest backup/);

  // The flag stays set: later cycles find the app and do not recover again.
  assert.equal(await webhook(b), 202);
  const again = await agentStatusWhen(b, (x) => x.cycles.unchanged > 0);
  assert.equal(again.lastError, undefined);
  assert.equal((await appAnswer(b)).rows, rowsAtBackup);
});

async function agentStatusWhen(
  fleet: Fleet,
  predicate: (s: AgentStatus) => boolean,
  timeoutMs = 300_000,
  what = 'an agent status',
): Promise<AgentStatus> {
  return waitFor(what, timeoutMs, async () => {
    const s = await agentStatus(fleet);
    return s !== undefined && predicate(s) ? s : undefined;
  });
}

async function running(container: string): Promise<boolean> {
  const out = await docker(env, ['inspect', '-f', '{{.State.Running}}', container]);
  return out.stdout.trim() === 'true';
}
