import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { git } from '../support/git-repo.ts';
import { sourceFixture } from './fixture.ts';

test('a revision that fails half way through checkout never becomes current and leaves nothing behind', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const good = await source.sync();
    const stateBefore = await readFile(join(fx.stateDir, 'source.json'), 'utf8');

    // A crafted tree: a normal file first, then a directory holding a ".git" entry, which
    // checkout refuses only after it has written the file.
    const dir = fx.work.dir;
    const blob = await git(dir, ['hash-object', '-w', '--stdin'], { input: 'payload\n' });
    const inner = await git(dir, ['mktree'], { input: `100644 blob ${blob}\t.git\n` });
    const root = await git(dir, ['mktree'], { input: `100644 blob ${blob}\ta.yml\n040000 tree ${inner}\tzz\n` });
    const bad = await git(dir, ['commit-tree', root, '-p', good.revision, '-m', 'crafted']);
    await fx.work.push({ oid: bad });

    await assert.rejects(source.sync(), (err: unknown) => {
      assert.ok(isAgentError(err, 'PathEscape'), String(err));
      assert.equal(err.data['path'], '.git');
      return true;
    });
    assert.deepEqual(await readdir(join(fx.stateDir, 'checkouts')), [good.revision]);
    assert.equal(await readlink(join(fx.stateDir, 'current')), join('checkouts', good.revision));
    assert.equal(await readFile(join(fx.stateDir, 'source.json'), 'utf8'), stateBefore);
    assert.deepEqual(await source.current(), { revision: good.revision, dir: good.dir });
  } finally {
    await fx.close();
  }
});

test('concurrent syncs share one run', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const [a, b] = await Promise.all([source.sync(), source.sync()]);
    assert.deepEqual(a, b);
    assert.deepEqual([fx.server.counts().refAdvertisement, fx.server.counts().uploadPack], [2, 1]);
  } finally {
    await fx.close();
  }
});

test('leftovers of an interrupted checkout are removed when the next revision is accepted', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    const leftover = join(fx.stateDir, 'checkouts', `.tmp-${'0'.repeat(40)}-dead`);
    await mkdir(leftover);
    await writeFile(join(leftover, 'half.yml'), 'half');
    const next = await fx.work.commit('next', { files: { 'b.yml': 'b\n' } });
    await fx.work.push();
    await source.sync();
    assert.deepEqual((await readdir(join(fx.stateDir, 'checkouts'))).sort(), [first.revision, next].sort());
  } finally {
    await fx.close();
  }
});

test('a checkout removed from disk is restored from the local git dir without fetching', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    await import('node:fs/promises').then((fs) => fs.rm(first.dir, { recursive: true }));
    assert.equal(await source.current(), undefined);
    fx.server.resetCounts();
    const again = await source.sync();
    assert.deepEqual(again, { ...first, changed: false });
    assert.equal(fx.server.counts().uploadPack, 0);
    assert.equal(await readFile(join(again.dir, 'appliances/a/appliance.yml'), 'utf8'), 'name: a\nversion: 1\n');
  } finally {
    await fx.close();
  }
});
