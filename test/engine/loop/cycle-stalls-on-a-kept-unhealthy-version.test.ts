import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ActualState } from '../../../agent/core/actual.ts';
import { AgentError } from '../../../agent/core/errors.ts';
import { cycleFinished, initialStatus, type AgentStatus } from '../../../agent/core/status.ts';
import type { Step } from '../../../agent/core/steps.ts';
import type { ExecContext, Executors, MachineDriver } from '../../../agent/core/executors.ts';
import { editYaml, fixtureRepo } from '../../config/helpers.ts';
import { applyToFake, emptyMachine } from '../../core/fake-machine.ts';
import { memoryCycle } from './memory-cycle.ts';

/**
 * A machine in memory whose health gates all fail the way the Docker executors report it when
 * policies.rollback.on_failed_health is false: the container stays, the failure is handed over.
 */
function unhealthyMachine(): MachineDriver {
  let actual: ActualState = emptyMachine('shop-prod');
  const executors = new Proxy({} as Executors, {
    get: () => (step: Step, ctx: ExecContext) => {
      actual = applyToFake(actual, step);
      if (step.action === 'container.create' || step.action === 'container.replace') {
        ctx.keptUnhealthy?.(new AgentError('HealthCheckFailed', `${step.id} did not become healthy in 10s`));
      }
      return Promise.resolve(undefined);
    },
  });
  return { observe: () => Promise.resolve(structuredClone(actual)), executors };
}

test('a version kept by on_failed_health false stalls the revision with HealthCheckFailed and stays', async (t) => {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'ops-kept-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const files = editYaml(await fixtureRepo('basic'), 'appliances/shop-prod/appliance.yml', (doc) => {
    (doc['policies'] as Record<string, Record<string, unknown>>)['rollback'] = {
      on_failed_health: false,
      health_timeout_seconds: 10,
    };
  });
  const machine = unhealthyMachine();
  let status: AgentStatus = initialStatus('shop-prod', new Date());
  const cycle = memoryCycle({ head: () => ({ revision: 'r1', files }), machine, stateDir, status: () => status });
  const signal = new AbortController().signal;
  const first = await cycle('poll', signal);
  assert.equal(first.kind, 'stalled');
  assert.equal(first.reason, 'HealthCheckFailed');
  assert.match(first.message, /kept because policies\.rollback\.on_failed_health is false/);
  status = cycleFinished(status, first, new Date(), new Date());
  assert.equal(status.stalledRevision, 'r1');
  assert.equal(status.lastAppliedRevision, 'r1', 'what runs is the kept revision');
  const running = (await machine.observe('shop-prod')).containers.map((c) => c.name);
  assert.ok(running.length > 0);

  // The next poll keeps the new version (nothing is undone) and stays stalled on the same reason.
  const second = await cycle('poll', signal);
  assert.equal(second.kind, 'stalled');
  assert.equal(second.reason, 'HealthCheckFailed');
  assert.deepEqual(
    (await machine.observe('shop-prod')).containers.map((c) => c.name),
    running,
  );
});
