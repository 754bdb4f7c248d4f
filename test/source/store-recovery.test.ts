import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { createRepoPair } from '../../devenv/git-repo.ts';
import { sourceFixture } from './fixture.ts';

const FILE = 'appliances/a/appliance.yml';

test('concurrent syncs share one run', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const [a, b] = await Promise.all([source.sync(), source.sync()]);
    assert.equal(a, b);
    assert.deepEqual([fx.server.counts().refAdvertisement, fx.server.counts().uploadPack], [1, 1]);
  } finally {
    await fx.close();
  }
});

test('a removed object store makes current() undefined; the next sync fetches it again', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    await rm(join(fx.stateDir, 'repo.git'), { recursive: true });
    assert.equal(await source.current(), undefined);
    await assert.rejects(first.reader.readFile(FILE), (err: unknown) => isAgentError(err, 'SourceCorrupt'));
    fx.server.resetCounts();
    const again = await source.sync();
    assert.deepEqual([again.changed, again.revision], [false, first.revision]);
    assert.deepEqual([fx.server.counts().refAdvertisement, fx.server.counts().uploadPack], [1, 1]);
    assert.equal(await again.reader.readFile(FILE), 'name: a\nversion: 1\n');
    assert.equal((await source.current())?.revision, first.revision);
  } finally {
    await fx.close();
  }
});

test('a damaged store found by a read is replaced by the next sync, and readers work again', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    const packs = join(fx.stateDir, 'repo.git', 'objects', 'pack');
    for (const f of await readdir(packs)) await rm(join(packs, f));
    await assert.rejects(first.reader.readFile(FILE), (err: unknown) => {
      assert.ok(isAgentError(err, 'SourceCorrupt'), String(err));
      assert.equal(err.terminal, false);
      return true;
    });
    fx.server.resetCounts();
    const again = await source.sync();
    assert.deepEqual([again.changed, again.revision], [false, first.revision]);
    assert.equal(fx.server.counts().uploadPack, 1);
    assert.equal(await again.reader.readFile(FILE), 'name: a\nversion: 1\n');
    assert.equal(await first.reader.readFile(FILE), 'name: a\nversion: 1\n');
    assert.deepEqual((await readdir(fx.stateDir)).sort(), ['repo.git', 'source.json']);
  } finally {
    await fx.close();
  }
});

test('a pending store replacement keeps the accepted revision readable and completes on the next sync', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    // What a crash right after a damaged fetch leaves behind.
    await mkdir(join(fx.stateDir, 'repo.git.new'));
    const kept = await fx.source().current();
    assert.ok(kept);
    assert.equal(kept.revision, first.revision);
    assert.equal(await kept.reader.readFile(FILE), 'name: a\nversion: 1\n');
    const next = await fx.work.commit('v2', { files: { [FILE]: 'name: a\nversion: 2\n' } });
    await fx.work.push();
    const r = await fx.source().sync();
    assert.deepEqual([r.changed, r.revision], [true, next]);
    assert.equal(await r.reader.readFile(FILE), 'name: a\nversion: 2\n');
    assert.deepEqual((await readdir(fx.stateDir)).sort(), ['repo.git', 'source.json']);
    assert.equal(await first.reader.readFile(FILE), 'name: a\nversion: 1\n');
  } finally {
    await fx.close();
  }
});

test('a new URL is fetched beside the old store, which stays in use until the new head is accepted', async () => {
  const fx = await sourceFixture();
  try {
    const first = await fx.source().sync();
    const { work: other } = await createRepoPair(join(fx.root, 'repos'), 'other.git');
    const otherHead = await other.commit('other', { files: { [FILE]: 'name: a\nversion: other\n' } });
    await other.push();
    const otherUrl = fx.server.url('other.git');

    // Trusting nobody: the new repo's head is refused, and the old revision stays readable.
    await assert.rejects(fx.source({ url: otherUrl, trustedSigners: [] }).sync(), (err: unknown) =>
      isAgentError(err, 'UnsignedCommit'),
    );
    const kept = await fx.source({ url: otherUrl }).current();
    assert.ok(kept);
    assert.equal(kept.revision, first.revision);
    assert.equal(await kept.reader.readFile(FILE), 'name: a\nversion: 1\n');

    const moved = await fx.source({ url: otherUrl }).sync();
    assert.deepEqual([moved.changed, moved.revision], [true, otherHead]);
    assert.equal(await moved.reader.readFile(FILE), 'name: a\nversion: other\n');
    assert.match(await readFile(join(fx.stateDir, 'repo.git', 'config'), 'utf8'), /other\.git/);
    assert.deepEqual((await readdir(fx.stateDir)).sort(), ['repo.git', 'source.json']);
  } finally {
    await fx.close();
  }
});
