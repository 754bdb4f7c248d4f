import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../agent/lib/log.ts';
import { SecretRegistry } from '../../agent/lib/secrets.ts';
import { AgentError } from '../../agent/core/errors.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const text = (): string => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('secret values are masked in messages, fields and nested errors', () => {
  const secrets = new SecretRegistry();
  secrets.add('hunter2-very-secret', '-----BEGIN KEY-----\nAAAABBBBCCCCDDDDEEEEFFFF\n-----END KEY-----');
  const out = capture();
  const log = createLogger({ secrets, destination: out.stream });
  log.info({ url: 'https://user:hunter2-very-secret@example.org' }, 'connecting with hunter2-very-secret');
  log.error(
    {
      err: new AgentError('StepFailed', 'failed: hunter2-very-secret', { data: { line: 'AAAABBBBCCCCDDDDEEEEFFFF' } }),
    },
    'boom',
  );
  assert.doesNotMatch(out.text(), /hunter2|AAAABBBBCCCCDDDD/);
  const [first, second] = out.lines();
  assert.equal(first!['msg'], 'connecting with [REDACTED]');
  assert.equal(first!['level'], 'info');
  assert.match(JSON.stringify(second!['err']), /"code":"StepFailed"/);
});

test('values under secret-looking keys are masked even when unknown', () => {
  const out = capture();
  const log = createLogger({ destination: out.stream });
  log.info({ password: 'p4ss', nested: { api_key: 'k3y', token: 't0k', domain: 'example.org' } }, 'x');
  const [line] = out.lines();
  assert.deepEqual(line!['nested'], { api_key: '[REDACTED]', token: '[REDACTED]', domain: 'example.org' });
  assert.equal(line!['password'], '[REDACTED]');
});
