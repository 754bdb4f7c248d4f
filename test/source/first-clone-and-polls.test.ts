import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sourceFixture } from './fixture.ts';

test('first sync fetches the branch head with one request pair and reads it from the object store', async () => {
  const fx = await sourceFixture();
  try {
    const head = await fx.work.head();
    const result = await fx.source().sync();
    assert.deepEqual([result.changed, result.revision], [true, head]);
    assert.equal(await result.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
    assert.deepEqual(await result.reader.listDir('appliances'), ['a']);
    // The fetch's own ref advertisement is the poll: no separate one before it.
    assert.deepEqual([fx.server.counts().refAdvertisement, fx.server.counts().uploadPack], [1, 1]);
    // No work tree: the object store and the accepted state are all there is.
    assert.deepEqual((await readdir(fx.stateDir)).sort(), ['repo.git', 'source.json']);
    const state = JSON.parse(await readFile(join(fx.stateDir, 'source.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(state['revision'], head);
    assert.equal(state['url'], fx.url);
    const current = await fx.source().current();
    assert.equal(current?.revision, head);
    assert.equal(await current.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
  } finally {
    await fx.close();
  }
});

test('a poll that finds the branch unchanged costs one ref advertisement and no upload-pack', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    fx.server.resetCounts();
    const result = await source.sync();
    assert.deepEqual([result.changed, result.revision], [false, first.revision]);
    assert.equal(await result.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
    const counts = fx.server.counts();
    assert.equal(counts.refAdvertisement, 1);
    assert.equal(counts.uploadPack, 0);
    assert.equal(counts.total, 1);
  } finally {
    await fx.close();
  }
});

test("a new commit is fetched incrementally, and each sync's reader keeps reading its own revision", async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    const second = await fx.work.commit('bump', {
      files: { 'appliances/a/appliance.yml': 'name: a\nversion: 2\n', 'appliances/b/appliance.yml': 'name: b\n' },
    });
    await fx.work.push();
    fx.server.resetCounts();
    const r2 = await source.sync();
    assert.deepEqual([r2.changed, r2.revision], [true, second]);
    assert.equal(await r2.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 2\n');
    // The poll's advertisement, then the fetch's own (isomorphic-git cannot reuse the first).
    assert.deepEqual([fx.server.counts().refAdvertisement, fx.server.counts().uploadPack], [2, 1]);

    const third = await fx.work.commit('bump again, drop b', {
      files: { 'appliances/a/appliance.yml': 'name: a\nversion: 3\n', 'appliances/b/appliance.yml': null },
    });
    await fx.work.push();
    const r3 = await source.sync();
    assert.equal(r3.revision, third);

    // Readers handed out earlier still see exactly their revision.
    const views = await Promise.all(
      [first, r2, r3].map(async (r) => [
        await r.reader.readFile('appliances/a/appliance.yml'),
        await r.reader.readFile('appliances/b/appliance.yml'),
        await r.reader.listDir('appliances'),
      ]),
    );
    assert.deepEqual(views, [
      ['name: a\nversion: 1\n', undefined, ['a']],
      ['name: a\nversion: 2\n', 'name: b\n', ['a', 'b']],
      ['name: a\nversion: 3\n', undefined, ['a']],
    ]);
    assert.equal(
      await (await source.current())?.reader.readFile('appliances/a/appliance.yml'),
      'name: a\nversion: 3\n',
    );
  } finally {
    await fx.close();
  }
});

test('a fresh source with a token-protected server also polls with a single request', async () => {
  const fx = await sourceFixture({ auth: { username: 'agent', password: 'tok-5f1c9a7e2b' } });
  try {
    const source = fx.source();
    await source.sync();
    fx.server.resetCounts();
    await source.sync();
    assert.deepEqual([fx.server.counts().total, fx.server.counts().unauthorized], [1, 0]);
  } finally {
    await fx.close();
  }
});
