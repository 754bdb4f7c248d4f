import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentError } from '../../agent/core/errors.ts';
import { sourceFixture } from './fixture.ts';

test('a force-push back to an older commit is refused and the accepted revision stays', async () => {
  const fx = await sourceFixture();
  try {
    const old = await fx.work.head();
    const source = fx.source();
    await source.sync();
    const newer = await fx.work.commit('v2', { files: { 'appliances/a/appliance.yml': 'version: 2\n' } });
    await fx.work.push();
    await source.sync();

    await fx.work.resetHard(old);
    await fx.work.push({ force: true });
    await assert.rejects(source.sync(), (err: unknown) => {
      assert.ok(isAgentError(err, 'HistoryRewind'));
      assert.deepEqual(err.data, { from: newer, to: old });
      return true;
    });
    const current = await source.current();
    assert.equal(current?.revision, newer);
    assert.equal(await current.reader.readFile('appliances/a/appliance.yml'), 'version: 2\n');
  } finally {
    await fx.close();
  }
});

test('a force-push to a diverging branch (fetched after a shallow first clone) is refused', async () => {
  const fx = await sourceFixture();
  try {
    const base = await fx.work.head();
    await fx.work.commit('c2', { files: { 'x.yml': '2\n' } });
    await fx.work.push();
    const source = fx.source();
    const accepted = (await source.sync()).revision;
    // Rewrite history: a sibling of the accepted commit, followed by more commits.
    await fx.work.resetHard(base);
    await fx.work.commit('other c2', { files: { 'x.yml': 'other\n' } });
    const diverged = await fx.work.commit('other c3', { files: { 'y.yml': '3\n' } });
    await fx.work.push({ force: true });
    await assert.rejects(source.sync(), (err: unknown) => isAgentError(err, 'HistoryRewind'));
    assert.equal((await source.current())?.revision, accepted);
    assert.notEqual(accepted, diverged);
  } finally {
    await fx.close();
  }
});

test('a fast-forward of many commits after a shallow first clone is accepted', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    await source.sync();
    let last = '';
    for (let i = 0; i < 5; i++) last = await fx.work.commit(`c${i}`, { files: { 'n.yml': `${i}\n` } });
    await fx.work.push();
    assert.equal((await source.sync()).revision, last);
  } finally {
    await fx.close();
  }
});

test('a rewind to a commit older than the shallow first clone is refused, and accepted with allowRewind', async () => {
  const fx = await sourceFixture();
  try {
    const old = await fx.work.head();
    await fx.work.commit('v2', { files: { 'appliances/a/appliance.yml': 'version: 2\n' } });
    await fx.work.push();
    // The first clone is shallow: `old` was never fetched.
    await fx.source().sync();
    await fx.work.resetHard(old);
    await fx.work.push({ force: true });
    await assert.rejects(fx.source().sync(), (err: unknown) => isAgentError(err, 'HistoryRewind'));
    const r = await fx.source({ allowRewind: true }).sync();
    assert.deepEqual([r.changed, r.revision], [true, old]);
    assert.equal(await r.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
  } finally {
    await fx.close();
  }
});
