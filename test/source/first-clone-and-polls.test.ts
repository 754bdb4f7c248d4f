import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readlink, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sourceFixture } from './fixture.ts';

test('first sync clones the branch head into an immutable checkout and records it', async () => {
  const fx = await sourceFixture();
  try {
    const head = await fx.work.head();
    const result = await fx.source().sync();
    assert.deepEqual(result, { changed: true, revision: head, dir: join(fx.stateDir, 'checkouts', head) });
    assert.equal(await readFile(join(result.dir, 'appliances/a/appliance.yml'), 'utf8'), 'name: a\nversion: 1\n');
    assert.equal(await readlink(join(fx.stateDir, 'current')), join('checkouts', head));
    const state = JSON.parse(await readFile(join(fx.stateDir, 'source.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(state['revision'], head);
    assert.equal(state['url'], fx.url);
    assert.deepEqual(await fx.source().current(), { revision: head, dir: result.dir });
  } finally {
    await fx.close();
  }
});

test('a poll that finds the branch unchanged costs one ref advertisement and no upload-pack', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    await source.sync();
    fx.server.resetCounts();
    const result = await source.sync();
    assert.equal(result.changed, false);
    const counts = fx.server.counts();
    assert.equal(counts.refAdvertisement, 1);
    assert.equal(counts.uploadPack, 0);
    assert.equal(counts.total, 1);
  } finally {
    await fx.close();
  }
});

test('a new commit is fetched, checked out and the old checkout is pruned after the next one', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    const second = await fx.work.commit('bump', { files: { 'appliances/a/appliance.yml': 'name: a\nversion: 2\n' } });
    await fx.work.push();
    fx.server.resetCounts();
    const r2 = await source.sync();
    assert.equal(r2.changed, true);
    assert.equal(r2.revision, second);
    assert.equal(await readFile(join(r2.dir, 'appliances/a/appliance.yml'), 'utf8'), 'name: a\nversion: 2\n');
    assert.equal(fx.server.counts().uploadPack, 1);
    // The previous checkout stays for readers that still hold it.
    assert.equal(await readFile(join(first.dir, 'appliances/a/appliance.yml'), 'utf8'), 'name: a\nversion: 1\n');

    const third = await fx.work.commit('bump again', {
      files: { 'appliances/a/appliance.yml': 'name: a\nversion: 3\n' },
    });
    await fx.work.push();
    const r3 = await source.sync();
    assert.equal(r3.revision, third);
    assert.deepEqual((await readdir(join(fx.stateDir, 'checkouts'))).sort(), [second, third].sort());
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
