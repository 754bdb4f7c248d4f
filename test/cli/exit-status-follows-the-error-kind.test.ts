import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT, exitCodeFor } from '../../agent/cli/exit-codes.ts';
import { ERROR_CODES, isErrorCode } from '../../agent/core/error-codes.ts';
import { AgentError } from '../../agent/core/errors.ts';

test('the exit status of a caught error follows its kind in the registry', () => {
  assert.equal(exitCodeFor(new AgentError('ConfigInvalid', 'x')), EXIT.invalid);
  assert.equal(exitCodeFor(new AgentError('ApplianceExists', 'x')), EXIT.invalid, 'a refusal exits 1');
  assert.equal(exitCodeFor(new AgentError('DockerUnavailable', 'x')), EXIT.unavailable);
  assert.equal(exitCodeFor(new AgentError('MigrationFailed', 'x')), EXIT.unavailable);
  assert.equal(exitCodeFor(new AgentError('UsageError', 'x')), EXIT.usage);
  assert.equal(exitCodeFor(new Error('not ours')), EXIT.unavailable);
  for (const [code, { kind }] of Object.entries(ERROR_CODES)) {
    assert.ok(isErrorCode(code));
    const expected = { input: 1, refused: 1, environment: 2, failed: 2, usage: 64 }[kind];
    assert.equal(exitCodeFor(new AgentError(code, 'x')), expected, code);
  }
});

test('codes read back from files are checked against the registry', () => {
  assert.equal(isErrorCode('MigrationFailed'), true);
  assert.equal(isErrorCode('NoSuchCode'), false);
  assert.equal(isErrorCode('toString'), false, 'not an inherited property');
});
