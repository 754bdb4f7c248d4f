import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runValidate } from '../../agent/cli/validate.ts';
import { fixturesDir, plainDecrypt } from '../config/helpers.ts';
import { assertGolden, captureIo } from './golden.ts';

const broken = join(fixturesDir, 'repos', 'broken');
const basic = join(fixturesDir, 'repos', 'basic');

test('validate lists every problem of every file as file: path: reason, and exits 1', async () => {
  const io = captureIo();
  await runValidate(broken, {}, io, { decrypt: plainDecrypt });
  assert.equal(io.code, 1);
  assert.equal(io.err, '');
  await assertGolden('validate-broken.txt', io.out);
});

test('validate --json has a stable machine shape', async () => {
  const io = captureIo();
  await runValidate(broken, { json: true }, io, { decrypt: plainDecrypt });
  assert.equal(io.code, 1);
  const parsed = JSON.parse(io.out) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), ['ok', 'decrypted', 'appliances', 'files', 'errors', 'warnings']);
  await assertGolden('validate-broken.json.golden', io.out);
});

test('without a key, env.yml is checked as a SOPS file', async () => {
  const io = captureIo();
  await runValidate(broken, {}, io);
  assert.equal(io.code, 1);
  await assertGolden('validate-broken-keyless.txt', io.out);
});

test('a valid repository exits 0 and says so', async () => {
  const io = captureIo();
  await runValidate(basic, {}, io, { decrypt: plainDecrypt });
  assert.equal(io.code, 0);
  await assertGolden('validate-basic.txt', io.out);
  const one = captureIo();
  await runValidate(basic, { name: 'shop-prod', json: true }, one, { decrypt: plainDecrypt });
  assert.equal(one.code, 0);
  await assertGolden('validate-basic-shop-prod.json.golden', one.out);
});

test('a missing directory, appliance or key file is a usage error (exit 2 or 1)', async () => {
  const io = captureIo();
  await runValidate(join(fixturesDir, 'repos', 'nope'), {}, io);
  assert.equal(io.code, 2);
  assert.match(io.err, /nope: not a directory/);
  const unknown = captureIo();
  await runValidate(basic, { name: 'shop-stage' }, unknown, { decrypt: plainDecrypt });
  assert.equal(unknown.code, 1);
  assert.match(unknown.out, /error: appliances\/shop-stage: there is no appliance 'shop-stage'/);
  const noKey = captureIo();
  await runValidate(basic, { identity: join(fixturesDir, 'keys', 'missing.agekey') }, noKey);
  assert.equal(noKey.code, 2);
});
