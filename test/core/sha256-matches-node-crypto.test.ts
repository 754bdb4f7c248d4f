import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { hmacSha256, sha256, toHex } from '../../agent/core/sha256.ts';

test('sha256 and hmacSha256 agree with node:crypto on many lengths', () => {
  for (let len = 0; len < 300; len++) {
    const data = randomBytes(len);
    assert.equal(toHex(sha256(data)), createHash('sha256').update(data).digest('hex'), `length ${len}`);
    const key = randomBytes(len % 100);
    assert.equal(toHex(hmacSha256(key, data)), createHmac('sha256', key).update(data).digest('hex'), `hmac ${len}`);
  }
  assert.equal(toHex(sha256('héllo ✓')), createHash('sha256').update('héllo ✓', 'utf8').digest('hex'));
});
