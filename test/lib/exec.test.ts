import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../agent/lib/exec.ts';
import { isAgentError } from '../../agent/core/errors.ts';

test('returns stdout of a successful command and passes stdin', async () => {
  const r = await run('cat', [], { input: 'from stdin' });
  assert.equal(r.stdout, 'from stdin');
  assert.equal(r.exitCode, 0);
});

test('a failing command throws ExecFailed with exit code and stderr', async () => {
  await assert.rejects(run('sh', ['-c', 'echo oops >&2; exit 3']), (err: unknown) => {
    assert.ok(isAgentError(err, 'ExecFailed'));
    assert.equal(err.data['exitCode'], 3);
    assert.match(err.message, /oops/);
    return true;
  });
});

test('accepted exit codes do not throw', async () => {
  const r = await run('sh', ['-c', 'exit 10'], { okCodes: [0, 10] });
  assert.equal(r.exitCode, 10);
});

test('a timeout kills the command and reports it', async () => {
  await assert.rejects(run('sleep', ['5'], { timeoutMs: 200 }), (err: unknown) => {
    assert.ok(isAgentError(err, 'ExecFailed'));
    assert.equal(err.data['timedOut'], true);
    return true;
  });
});
