import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  condition,
  cycleFinished,
  initialStatus,
  recoveryStarted,
  type AgentStatus,
  type CycleOutcome,
} from '../../agent/core/status.ts';
import { converge } from '../../agent/engine/loop/converge.ts';
import type { Executors, MachineDriver, Recoverers } from '../../agent/core/executors.ts';
import type { JournalRecord } from '../../agent/engine/loop/journal.ts';
import { renderMetrics } from '../../agent/engine/metrics.ts';
import { Reconciler } from '../../agent/engine/loop/schedule.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { emptyMachine } from '../core/fake-machine.ts';
import { desiredState } from '../../devenv/desired-builder.ts';

function capture(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => lines.push(s) } });
  return { log, lines };
}

test('Ready is not Succeeded while an interrupted apply is being recovered', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ops-recovering-'));
  try {
    const desired = desiredState({ name: 'rec', services: [] });
    const record: JournalRecord = {
      owner: 'rec',
      revision: 'b'.repeat(40),
      startedAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      status: 'applying',
      steps: [],
    };
    await writeFile(path.join(dir, 'journal.json'), JSON.stringify(record));
    const driver: MachineDriver = {
      observe: () => Promise.resolve(emptyMachine('rec')),
      executors: {} as Executors,
      recoverers: {} as Recoverers,
    };
    const { log } = capture();
    let status: AgentStatus = cycleFinished(
      initialStatus('rec', new Date()),
      { kind: 'applied', revision: 'a'.repeat(40), steps: 1 },
      new Date(),
      new Date(),
    );
    assert.equal(condition(status, 'Ready')?.reason, 'Succeeded');
    const reconciler = new Reconciler(
      {
        cycle: () => Promise.resolve({ kind: 'unchanged', revision: 'a'.repeat(40) }),
        log,
        onStatus: (s) => {
          status = s;
        },
      },
      { appliance: 'rec', intervalMs: 60_000, status },
    );
    const seen: { status?: AgentStatus } = {};
    const result = await converge({
      desired,
      driver,
      stateDir: dir,
      log,
      onRecovering: async (revision) => {
        await reconciler.update((s) => recoveryStarted(s, revision, new Date()));
        seen.status = status;
      },
    });
    assert.equal(result.recovery?.found, 'applying');
    assert.ok(seen.status !== undefined);
    const ready = condition(seen.status, 'Ready');
    assert.equal(ready?.status, false);
    assert.equal(ready.reason, 'Recovering');
    assert.match(ready.message, /bbbbbbbbbbbb is being recovered/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the same stall is logged once per revision and reason, with a counter', async () => {
  const { log, lines } = capture();
  const outcomes: CycleOutcome[] = [
    ...Array.from({ length: 4 }, (): CycleOutcome => ({
      kind: 'stalled',
      revision: 'r1',
      reason: 'ConfigInvalid',
      code: 'ConfigInvalid',
      message: 'bad config',
    })),
    { kind: 'failed', revision: 'r1', reason: 'RestoreInProgress', code: 'RestoreInProgress', message: 'a restore' },
    { kind: 'failed', revision: 'r1', reason: 'RestoreInProgress', code: 'RestoreInProgress', message: 'a restore' },
    { kind: 'stalled', revision: 'r2', reason: 'ConfigInvalid', code: 'ConfigInvalid', message: 'bad config' },
  ];
  let i = 0;
  const reconciler = new Reconciler(
    { cycle: () => Promise.resolve(outcomes[i++] ?? { kind: 'unchanged', revision: 'r2' }), log },
    { appliance: 'x', intervalMs: 60_000 },
  );
  for (let n = 0; n < outcomes.length; n++) await reconciler.trigger('poll');
  const records = lines.map((l) => JSON.parse(l) as { level: string; msg: string; count?: number });
  const loud = records.filter((r) => r.level === 'error' || r.level === 'warn');
  assert.deepEqual(
    loud.map((r) => r.msg),
    ['bad config', 'a restore', 'bad config'],
  );
  const ended = records.filter((r) => r.level === 'info' && r.msg.includes('ended after'));
  assert.deepEqual(
    ended.map((r) => r.count),
    [4, 2],
  );
  await reconciler.stop();
});

test('a key both bound to a child logger and given to the call is written once', () => {
  const { log, lines } = capture();
  log.child({ revision: 'abc' }).warn({ revision: 'abc', status: 'applying' }, 'same');
  log.child({ revision: 'abc' }).warn({ revision: 'def' }, 'other');
  assert.equal(lines[0]?.match(/"revision"/g)?.length, 1, lines[0]);
  assert.equal(lines[1]?.match(/"revision"/g)?.length, 1, lines[1]);
  assert.equal((JSON.parse(lines[1]) as Record<string, unknown>)['revisionLogged'], 'def');
});

test('/metrics: no reason label on appliance_condition, backup series before any backup, promtool-clean', async () => {
  const status = cycleFinished(
    initialStatus('demo', new Date(0)),
    { kind: 'stalled', revision: 'r', reason: 'ConfigInvalid', code: 'ConfigInvalid', message: 'm' },
    new Date(0),
    new Date(1000),
  );
  const text = renderMetrics(status, new Date(2000), { rss: 1, heapUsed: 1, heapTotal: 1, external: 1 });
  assert.match(text, /^appliance_condition\{appliance="demo",type="Ready"\} 0$/m);
  assert.doesNotMatch(text, /^appliance_condition\{[^}]*reason=/m);
  assert.match(text, /^appliance_condition_reason_info\{appliance="demo",type="Ready",reason="ConfigInvalid"\} 1$/m);
  for (const name of [
    'missed',
    'last_success_timestamp_seconds',
    'last_failure_timestamp_seconds',
    'check_last_timestamp_seconds',
    'restore_test_last_timestamp_seconds',
    'succeeded_total',
    'failed_total',
  ]) {
    assert.match(text, new RegExp(`^appliance_backup_${name}\\{appliance="demo"\\} 0$`, 'm'), name);
  }
  assert.match(text, /^# HELP appliance_backup_last_success_timestamp_seconds .*\(0 = never\)\.$/m);
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'ops-metrics-')), 'metrics.prom');
  await writeFile(file, text);
  // Debian's prometheus package (test/prereqs.sh) ships promtool, the exposition format's linter.
  const out = await promisify(execFile)('sh', ['-c', `promtool check metrics < "${file}"`]).catch(
    (err: unknown) => err as { stdout: string; stderr: string },
  );
  assert.equal(`${out.stdout}${out.stderr}`.trim(), '');
  await rm(path.dirname(file), { recursive: true, force: true });
});
