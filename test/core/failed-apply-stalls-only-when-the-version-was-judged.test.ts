import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentError } from '../../agent/core/errors.ts';
import { classifyFailedApply, type FailedApply } from '../../agent/core/update-failure.ts';

const firstStart: FailedApply = {
  bumpsApp: false,
  ranBefore: false,
  changeSet: [
    { action: 'container.create', outcome: 'reverted' },
    { action: 'app.migrate', outcome: 'failed' },
    { action: 'container.create', outcome: 'not-run' },
  ],
};

test('a database that refused a connection before anything changed is retried, not stalled', () => {
  const err = new AgentError('MigrationStatusFailed', 'migration_status exited 1: connection refused');
  const out = classifyFailedApply(err, firstStart);
  assert.equal(out.terminal, false);
  assert.equal(out.message, err.message, 'no claim of a rollback');
});

test('an engine hiccup during an update is retried', () => {
  const err = new AgentError('DockerUnavailable', 'the Docker engine closed the connection');
  assert.equal(classifyFailedApply(err, { ...firstStart, bumpsApp: true, ranBefore: true }).terminal, false);
});

test('an unhealthy first start stalls and says that nothing ran before', () => {
  const out = classifyFailedApply(new AgentError('HealthCheckFailed', 'demo-web is unhealthy'), firstStart);
  assert.equal(out.terminal, true);
  assert.match(out.message, /nothing ran before, so nothing was started$/);
  assert.doesNotMatch(out.message, /previous version|restored/);
});

test('a failed migration after a snapshot says the data was restored and the previous version started', () => {
  const out = classifyFailedApply(new AgentError('MigrationFailed', 'migrate exited 1', { data: { restored: true } }), {
    bumpsApp: true,
    ranBefore: true,
    changeSet: [
      { action: 'snapshot.create', outcome: 'applied' },
      { action: 'app.migrate', outcome: 'failed' },
    ],
  });
  assert.equal(out.terminal, true);
  assert.match(out.message, /restored from the PRE_MIGRATE snapshot; the previous version was started again$/);
});

test('a health failure after a migration that was undone counts the restore', () => {
  const out = classifyFailedApply(new AgentError('HealthCheckFailed', 'demo-web is unhealthy'), {
    bumpsApp: true,
    ranBefore: true,
    changeSet: [
      { action: 'snapshot.create', outcome: 'applied' },
      { action: 'app.migrate', outcome: 'reverted' },
      { action: 'container.replace', outcome: 'failed' },
    ],
  });
  assert.equal(out.terminal, true);
  assert.match(out.message, /restored/);
});

test('an env change that leaves a running version unhealthy stays transient, as before', () => {
  const out = classifyFailedApply(new AgentError('HealthCheckFailed', 'demo-web is unhealthy'), {
    bumpsApp: false,
    ranBefore: true,
    changeSet: [{ action: 'container.replace', outcome: 'failed' }],
  });
  assert.equal(out.terminal, false);
});
