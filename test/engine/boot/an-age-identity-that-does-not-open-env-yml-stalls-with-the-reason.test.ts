import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decryptEnvWith } from '../../../agent/config/decrypt-env.ts';
import { AgentError } from '../../../agent/core/errors.ts';
import { createCycle } from '../../../agent/engine/loop/cycle.ts';
import { Reconciler } from '../../../agent/engine/loop/schedule.ts';
import { SecretRegistry } from '../../../agent/lib/secrets.ts';
import { generateIdentity } from '../../../agent/sops/index.ts';
import { GitSource } from '../../../agent/source/index.ts';
import type { GitServer } from '../../../devenv/git-server.ts';
import { servedExampleRepo } from '../../../devenv/served-example.ts';
import { capturingLogger } from './helpers.ts';

// The boot cannot see env.yml (it comes with the clone): a seed whose identity is a valid age
// key but not one env.yml is encrypted for is found by the agent's first cycle, against the
// real example repo served over HTTP.
let server: GitServer;
let state: string;
before(async () => {
  ({ server } = await servedExampleRepo());
  state = await mkdtemp(join(tmpdir(), 'appliance-wrong-identity-'));
});
after(async () => {
  await server.stop();
  await rm(state, { recursive: true, force: true });
});

test('an age identity that does not open env.yml: stalled with the reason, one log line, the machine untouched', async () => {
  const { identity, recipient } = await generateIdentity();
  const { log, lines } = capturingLogger();
  const secrets = new SecretRegistry();
  secrets.add(identity);
  let machineAsked = 0;
  const cycle = createCycle({
    name: 'demo',
    source: new GitSource(
      { log, secrets },
      { url: server.url('fleet.git'), branch: 'main', stateDir: join(state, 'source') },
    ),
    decrypt: decryptEnvWith([identity]),
    driverFor: () => {
      machineAsked++;
      throw new AgentError('AgentUnavailable', 'the machine must not be asked');
    },
    stateDir: join(state, 'engine'),
    log,
    secrets,
    status: () => reconciler.status,
  });
  const reconciler = new Reconciler({ cycle, log }, { appliance: 'demo', intervalMs: 60_000 });
  const first = await reconciler.trigger('start');
  const second = await reconciler.trigger('poll');
  await reconciler.stop();

  for (const outcome of [first, second]) {
    assert.equal(outcome.kind === 'stalled' && outcome.code, 'ConfigInvalid', JSON.stringify(outcome));
  }
  const error = reconciler.status.lastError;
  assert.ok(error !== undefined);
  assert.equal(error.code, 'ConfigInvalid');
  assert.match(error.message, /SopsNoIdentity/);
  // Which file, which key the appliance has, which keys the file is for, and what to do.
  assert.match(error.message, /appliances\/demo\/env\.yml/);
  assert.ok(error.message.includes(recipient), error.message);
  assert.match(error.message, /encrypted for age1/);
  assert.match(error.message, /appliance config rotate --recipient .* or boot it with the seed made for this env\.yml/);
  const errors = lines().filter((l) => l.level === 'error');
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.equal(machineAsked, 0);
  assert.deepEqual(await readdir(state), ['source']);
  assert.doesNotMatch(JSON.stringify(lines()), /AGE-SECRET-KEY/);
});
