import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { DecryptEnv } from '../../../agent/config/load.ts';
import type { DesiredState } from '../../../agent/core/desired.ts';
import { AgentError } from '../../../agent/core/errors.ts';
import { initialStatus } from '../../../agent/core/status.ts';
import { createCycle } from '../../../agent/engine/loop/cycle.ts';
import { createLogger } from '../../../agent/lib/log.ts';
import { SecretRegistry } from '../../../agent/lib/secrets.ts';
import { editYaml, fixtureRepo, memoryRepo, plainDecrypt } from '../../config/helpers.ts';

const quiet = createLogger({
  destination: new Writable({
    write: (_c, _e, cb) => {
      cb();
    },
  }),
});

/** A cycle on `source` whose machine stops it (AgentUnavailable) once it has the desired state (`seen`). */
function stoppingCycle(
  source: Parameters<typeof createCycle>[0]['source'],
  decrypt: DecryptEnv,
  seen: DesiredState[] = [],
) {
  return createCycle({
    name: 'shop-prod',
    source,
    decrypt,
    // The machine is not what these tests are about.
    driverFor: (desired) => {
      seen.push(desired);
      throw new AgentError('AgentUnavailable', 'no machine in this test');
    },
    stateDir: '/nonexistent',
    log: quiet,
    secrets: new SecretRegistry(),
    status: () => initialStatus('shop-prod', new Date()),
  });
}

test('a revision is read, decrypted and validated once, however often it is polled', async () => {
  const files = await fixtureRepo('basic');
  const repos = { r1: memoryRepo(files), r2: memoryRepo(files) };
  let head: keyof typeof repos = 'r1';
  let reads = 0;
  let decrypts = 0;
  const counted = (reader: (typeof repos)['r1']): (typeof repos)['r1'] => ({
    readFile: (rel) => {
      reads++;
      return reader.readFile(rel);
    },
    listDir: (rel) => reader.listDir(rel),
  });
  const decrypt: DecryptEnv = (text, file) => {
    decrypts++;
    return plainDecrypt(text, file);
  };
  const seen: DesiredState[] = [];
  const cycle = stoppingCycle(
    {
      sync: () => Promise.resolve({ revision: head, reader: counted(repos[head]) }),
      current: () => Promise.resolve(undefined),
    },
    decrypt,
    seen,
  );
  const signal = new AbortController().signal;
  const poll = (): Promise<unknown> =>
    assert.rejects(
      cycle('poll', signal),
      (err: unknown) => err instanceof AgentError && err.code === 'AgentUnavailable',
    );

  await poll();
  const readsOfOne = reads;
  assert.ok(readsOfOne > 0);
  await poll();
  await poll();
  assert.equal(decrypts, 1);
  assert.equal(reads, readsOfOne);
  assert.equal(seen[1], seen[0]);

  head = 'r2';
  await poll();
  assert.equal(decrypts, 2);
  assert.equal(seen[3]?.revision, 'r2');
});

test('a revision whose config is invalid is not remembered as loaded', async () => {
  const good = await fixtureRepo('basic');
  const bad = editYaml(good, 'appliances/shop-prod/appliance.yml', (d) => {
    d['timezone'] = 'Nowhere/Nothing';
  });
  let decrypts = 0;
  let files: ReadonlyMap<string, string> = bad;
  const cycle = stoppingCycle(
    {
      sync: () => Promise.resolve({ revision: 'r1', reader: memoryRepo(files) }),
      current: () => Promise.resolve(undefined),
    },
    (text, file) => {
      decrypts++;
      return plainDecrypt(text, file);
    },
  );
  const signal = new AbortController().signal;
  const outcome = await cycle('poll', signal);
  assert.equal(outcome.kind, 'stalled');
  files = good;
  await assert.rejects(
    cycle('poll', signal),
    (err: unknown) => err instanceof AgentError && err.code === 'AgentUnavailable',
  );
  assert.equal(decrypts, 2);
});
