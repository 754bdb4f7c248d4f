import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ActualState } from '../../agent/core/actual.ts';
import type { ExecContext, Executors, MachineDriver } from '../../agent/core/executors.ts';
import { cycleFinished, initialStatus, type AgentStatus } from '../../agent/core/status.ts';
import type { Step } from '../../agent/core/steps.ts';
import { at, editYaml, fixtureRepo } from '../config/helpers.ts';
import { applyToFake, emptyMachine } from '../core/fake-machine.ts';
import { memoryCycle } from './loop/memory-cycle.ts';

/** A machine in memory that counts the steps run on it. */
function countingMachine(): MachineDriver & { steps: number } {
  let actual: ActualState = emptyMachine('shop-prod');
  const machine = {
    steps: 0,
    observe: () => Promise.resolve(structuredClone(actual)),
    executors: new Proxy({} as Executors, {
      get: () => (step: Step, _ctx: ExecContext) => {
        machine.steps++;
        actual = applyToFake(actual, step);
        return Promise.resolve(undefined);
      },
    }),
  };
  return machine;
}

type Doc = Record<string, unknown>;
const BAD: [string, string, (d: Doc) => void, string][] = [
  [
    'apps/shop/app.yml',
    '/ingress/http/routes/0/service',
    (d) => {
      at(d, 'ingress.http')['routes'] = [{ path: '/', service: 'frontend', port: 8080 }];
    },
    "unknown service 'frontend'",
  ],
  [
    'appliances/shop-prod/env.yml',
    '/allowed_hosts/1',
    (d) => {
      d['allowed_hosts'] = ['shop.example.org', 'SHOP.example.org'];
    },
    'is the same host name',
  ],
  [
    'appliances/shop-prod/env.yml',
    '/tls/client_certs/ca',
    (d) => {
      at(d, 'tls.client_certs')['ca'] = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    },
    'is not a valid X.509 certificate',
  ],
  [
    'appliances/shop-prod/appliance.yml',
    '/service_mode/message',
    (d) => {
      d['service_mode'] = { enabled: true, message: 'x'.repeat(1025) };
    },
    'is 1025 bytes long',
  ],
];

test('the agent refuses bad ingress input with file, path and reason, and changes nothing that runs', async (t) => {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'ops-bad-ingress-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const good = await fixtureRepo('basic');
  let head = { revision: 'r1', files: good };
  const machine = countingMachine();
  let status: AgentStatus = initialStatus('shop-prod', new Date());
  const cycle = memoryCycle({ head: () => head, machine, stateDir, status: () => status });
  const signal = new AbortController().signal;
  const poll = async (): Promise<Awaited<ReturnType<typeof cycle>>> => {
    const started = new Date();
    const outcome = await cycle('poll', signal);
    status = cycleFinished(status, outcome, started, new Date());
    return outcome;
  };
  assert.equal((await poll()).kind, 'applied');
  const running = await machine.observe('shop-prod');
  const stepsBefore = machine.steps;

  for (const [i, [file, pointer, edit, reason]] of BAD.entries()) {
    head = { revision: `bad${i}`, files: editYaml(good, file, edit) };
    const outcome = await poll();
    assert.ok(outcome.kind === 'stalled', file);
    assert.equal(outcome.code, 'ConfigInvalid');
    assert.ok(outcome.message.startsWith(`${file}: ${pointer}: `), outcome.message);
    assert.ok(outcome.message.includes(reason), outcome.message);
    assert.equal(status.lastAppliedRevision, 'r1', 'r1 is still what runs');
    assert.equal(status.stalledRevision, `bad${i}`);
  }
  assert.equal(machine.steps, stepsBefore, 'no step ran on the machine');
  assert.deepEqual(await machine.observe('shop-prod'), running);
});
