import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runRender } from '../../agent/cli/render.ts';
import { fixturesDir, plainDecrypt } from '../config/helpers.ts';
import { assertGolden, captureIo } from './golden.ts';

const basic = join(fixturesDir, 'repos', 'basic');
const SECRETS = [
  'relay-password-fixture',
  'restic-password-fixture-0001',
  'transport-password-fixture',
  'db-password-fixture',
  'secret-key-fixture-0123456789',
  'signing-key-fixture',
  'MC4CAQAwBQYDK2VwBCIEIFake',
  'sftp:backup@backup.example.net',
];

test('render prints the resolved state readably with secrets masked', async () => {
  const io = captureIo();
  await runRender({ repo: basic, name: 'shop-prod', revision: 'fixture' }, io, { decrypt: plainDecrypt });
  assert.equal(io.code, 0, io.err);
  for (const s of SECRETS) assert.ok(!io.out.includes(s), `secret visible: ${s}`);
  await assertGolden('render-shop-prod.txt', io.out);
});

test('render --json prints the whole state with secrets masked', async () => {
  const io = captureIo();
  await runRender({ repo: basic, name: 'shop-prod', revision: 'fixture', json: true }, io, { decrypt: plainDecrypt });
  assert.equal(io.code, 0, io.err);
  for (const s of SECRETS) assert.ok(!io.out.includes(s), `secret visible: ${s}`);
  const state = JSON.parse(io.out) as { name: string; app: { services: { name: string }[] } };
  assert.equal(state.name, 'shop-prod');
  await assertGolden('render-shop-prod.json.golden', io.out);
});

test('render of an invalid appliance prints the problems and exits 1', async () => {
  const io = captureIo();
  await runRender({ repo: join(fixturesDir, 'repos', 'broken'), name: 'bad-refs' }, io, { decrypt: plainDecrypt });
  assert.equal(io.code, 1);
  assert.equal(io.out, '');
  assert.match(io.err, /error: appliances\/bad-refs\/appliance.yml: \/images\/api: app 'shop'/);
});

test('render without an age identity exits 2 and says how to give one', async () => {
  const noKey = captureIo();
  await runRender({ repo: basic, name: 'shop-prod' }, noKey);
  assert.equal(noKey.code, 2);
  assert.match(noKey.err, /render needs an age identity/);
});
