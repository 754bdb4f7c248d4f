import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadBootstrap } from '../../agent/config/bootstrap.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { sourceFixture } from './fixture.ts';

test('a first clone refuses a head that is not the minimum revision or a descendant of it', async (t) => {
  const fx = await sourceFixture();
  t.after(() => fx.close());
  const old = await fx.work.head();
  const minimum = await fx.work.commit('v2', { files: { 'appliances/a/appliance.yml': 'version: 2\n' } });
  const newer = await fx.work.commit('v3', { files: { 'appliances/a/appliance.yml': 'version: 3\n' } });

  // The server (or someone in between) offers the old commit to a fresh appliance.
  await fx.work.push({ oid: old, force: true });
  const fresh = (dir: string) => fx.source({ minRevision: minimum, stateDir: join(fx.root, dir) });
  await assert.rejects(fresh('replayed').sync(), (err: unknown) => {
    assert.ok(isAgentError(err, 'RevisionBelowMinimum'), String(err));
    assert.deepEqual(err.data, { head: old, minimum });
    assert.equal(err.terminal, true);
    return true;
  });
  assert.equal(await fresh('replayed').current(), undefined);

  await fx.work.push({ oid: minimum, force: true });
  assert.equal((await fresh('at-minimum').sync()).revision, minimum);
  await fx.work.push({ oid: newer, force: true });
  const accepted = await fresh('after').sync();
  assert.equal(accepted.revision, newer);
  assert.equal(await accepted.reader.readFile('appliances/a/appliance.yml'), 'version: 3\n');
});

test('trust.min_revision in bootstrap.yml is a full commit id', () => {
  const doc = (rev: string): string =>
    `name: d\nrepo: { url: https://h.test/f.git }\nage_identity_file: /k\ntrust: { allow_unsigned: true, min_revision: '${rev}' }\n`;
  assert.ok(loadBootstrap(doc('0123456789abcdef0123456789abcdef01234567'), 'b.yml').ok);
  const short = loadBootstrap(doc('0123456'), 'b.yml');
  assert.deepEqual(!short.ok && short.errors.map((e) => e.path), ['/trust/min_revision']);
});
