import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { DesiredState } from '../../agent/core/desired.ts';
import { AgentError } from '../../agent/core/errors.ts';
import { initialStatus } from '../../agent/core/status.ts';
import { createCycle } from '../../agent/engine/loop/cycle.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { SecretRegistry } from '../../agent/lib/secrets.ts';
import { editYaml, fixtureRepo, memoryRepo, plainDecrypt } from '../config/helpers.ts';

const quiet = createLogger({
  destination: new Writable({
    write: (_c, _e, cb) => {
      cb();
    },
  }),
});

test('after a restart on an invalid head, the followers of applied revisions learn the last applied one', async () => {
  const good = await fixtureRepo('basic');
  const bad = editYaml(good, 'appliances/shop-prod/appliance.yml', (d) => {
    d['timezone'] = 42;
  });
  const followed: string[] = [];
  const cycle = createCycle({
    name: 'shop-prod',
    source: {
      sync: () => Promise.resolve({ revision: 'bad', reader: memoryRepo(bad) }),
      current: () => Promise.resolve(undefined),
      at: (revision) => Promise.resolve(revision === 'good' ? { revision, reader: memoryRepo(good) } : undefined),
    },
    decrypt: plainDecrypt,
    // The machine is not what this test is about.
    driverFor: () => {
      throw new AgentError('AgentUnavailable', 'no machine in this test');
    },
    stateDir: '/nonexistent',
    log: quiet,
    secrets: new SecretRegistry(),
    // The status a restarted agent reads back: 'good' was applied before the restart.
    status: () => ({ ...initialStatus('shop-prod', new Date()), lastAppliedRevision: 'good' }),
    onApplied: (desired: DesiredState) => {
      followed.push(desired.revision);
      return Promise.resolve();
    },
  });
  await assert.rejects(cycle('start', new AbortController().signal), (err: unknown) => err instanceof AgentError);
  // Backups and reporters (forge settings, status ref) follow the revision in force, not nothing.
  assert.deepEqual(followed, ['good']);
});
