import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretRegistry } from '../../agent/lib/secrets.ts';

test('a short or numeric secret is masked where it stands alone, not inside words', () => {
  const secrets = new SecretRegistry();
  secrets.add('ab9', 4711, '42');
  assert.equal(secrets.scrub('pin ab9, code 4711; answer=42'), 'pin [REDACTED], code [REDACTED]; answer=[REDACTED]');
  assert.equal(secrets.scrub('tab9x 47110 420 x42y'), 'tab9x 47110 420 x42y');
});

test('the URL-encoded forms of a secret are masked', () => {
  const secrets = new SecretRegistry();
  secrets.add('p@ss w/rd:ä');
  const encoded = encodeURIComponent('p@ss w/rd:ä');
  const text = [
    `https://u:${encoded}@host/`,
    `password=${encoded.replace(/%20/g, '+')}`,
    `x=${encoded.toLowerCase()}`,
    'plain p@ss w/rd:ä',
  ].join('\n');
  const scrubbed = secrets.scrub(text);
  assert.doesNotMatch(scrubbed, /p@ss|p%40ss/i);
  assert.equal(scrubbed.match(/\[REDACTED\]/g)?.length, 4);
});

test('a number under a secret-looking key is masked', () => {
  const secrets = new SecretRegistry();
  assert.deepEqual(secrets.scrubDeep({ pin_password: 123456, port: 5432 }), {
    pin_password: '[REDACTED]',
    port: 5432,
  });
});
