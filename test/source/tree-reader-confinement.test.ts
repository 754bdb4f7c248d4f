import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError, type ErrorCode } from '../../agent/core/errors.ts';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { git, tempDir } from '../../devenv/git-repo.ts';
import { sourceFixture } from './fixture.ts';

const isCode = (code: ErrorCode) => (err: unknown) => isAgentError(err, code);

test('absolute paths and .. are refused for reads and listings; other paths are normalized', async () => {
  const fx = await sourceFixture();
  try {
    const { reader } = await fx.source().sync();
    for (const bad of [
      '../etc/passwd',
      'a/../../x',
      '/etc/passwd',
      'appliances/..',
      '..',
      'a\0b',
      '\\etc',
      'a\\..\\b',
    ]) {
      await assert.rejects(reader.readFile(bad), isCode('PathEscape'), JSON.stringify(bad));
      await assert.rejects(reader.listDir(bad), isCode('PathEscape'), JSON.stringify(bad));
    }
    assert.equal(await reader.readFile('./appliances//a/./appliance.yml'), 'name: a\nversion: 1\n');
    assert.deepEqual(await reader.listDir('appliances/'), ['a']);
  } finally {
    await fx.close();
  }
});

test('symlinks committed to the repo are followed inside it and refused when they lead out', async () => {
  const fx = await sourceFixture();
  const outside = await tempDir('outside-');
  try {
    await writeFile(join(outside, 'secret'), 'not for the agent\n');
    await fx.work.write({ 'appliances/a/real.yml': 'inside\n', 'shared/app.yml': 'app: shared\n' });
    await fx.work.symlink('appliances/a/env.yml', join(outside, 'secret'));
    await fx.work.symlink('appliances/a/up.yml', '../../../../../../../../../../etc/passwd');
    await fx.work.symlink('appliances/b', outside);
    await fx.work.symlink('appliances/a/alias.yml', 'real.yml');
    await fx.work.symlink('appliances/a/around.yml', '../../appliances/a/real.yml');
    await fx.work.symlink('appliances/c', '../shared');
    await fx.work.symlink('appliances/d', 'c/../../..');
    await fx.work.symlink('loop/a', 'b');
    await fx.work.symlink('loop/b', 'a');
    // chain/l1 → l2 → … → l9 → target.yml: l2 needs 8 links, l1 needs 9.
    await fx.work.write({ 'chain/target.yml': 'end\n' });
    for (let i = 1; i <= 9; i++) await fx.work.symlink(`chain/l${i}`, i === 9 ? 'target.yml' : `l${i + 1}`);
    await fx.work.commit('links');
    await fx.work.push();
    const { reader } = await fx.source().sync();

    await assert.rejects(reader.readFile('appliances/a/env.yml'), isCode('PathEscape'));
    await assert.rejects(reader.readFile('appliances/a/up.yml'), isCode('PathEscape'));
    await assert.rejects(reader.readFile('appliances/b/secret'), isCode('PathEscape'));
    await assert.rejects(reader.listDir('appliances/b'), isCode('PathEscape'));
    // `c` is a link: `c/..` is the parent of `shared` (the root), so `c/../../..` leaves the repo.
    await assert.rejects(reader.listDir('appliances/d'), isCode('PathEscape'));
    await assert.rejects(reader.readFile('loop/a'), isCode('PathEscape'));
    await assert.rejects(reader.readFile('chain/l1'), isCode('PathEscape'));
    assert.equal(await reader.readFile('chain/l2'), 'end\n');
    assert.equal(await reader.readFile('appliances/a/alias.yml'), 'inside\n');
    assert.equal(await reader.readFile('appliances/a/around.yml'), 'inside\n');
    assert.equal(await reader.readFile('appliances/c/app.yml'), 'app: shared\n');
    assert.deepEqual(await reader.listDir('appliances/c'), ['app.yml']);
  } finally {
    await fx.close();
    await rm(outside, { recursive: true, force: true });
  }
});

test('files over the size cap are refused, also through a symlink; the cap itself is allowed', async () => {
  const fx = await sourceFixture();
  try {
    await fx.work.write({ 'big.yml': 'a'.repeat(4097), 'exact.yml': 'a'.repeat(4096) });
    await fx.work.symlink('link.yml', 'big.yml');
    await fx.work.commit('sizes');
    await fx.work.push();
    const { reader } = await fx.source({ maxFileBytes: 4096 }).sync();
    await assert.rejects(reader.readFile('big.yml'), (err: unknown) => {
      assert.ok(isAgentError(err, 'FileTooLarge'));
      assert.deepEqual(err.data, { path: 'big.yml', size: 4097, maxBytes: 4096 });
      assert.equal(err.terminal, true);
      return true;
    });
    await assert.rejects(reader.readFile('link.yml'), isCode('FileTooLarge'));
    assert.equal((await reader.readFile('exact.yml'))?.length, 4096);
  } finally {
    await fx.close();
  }
});

test('missing files read as undefined; directories and submodules are not files', async () => {
  const fx = await sourceFixture();
  try {
    const base = await fx.work.head();
    // A submodule entry, as `git submodule add` would commit it (the commit need not exist here).
    const dir = fx.work.dir;
    const blob = await git(dir, ['hash-object', '-w', '--stdin'], { input: 'a: 1\n' });
    const root = await git(dir, ['mktree'], { input: `100644 blob ${blob}\ta.yml\n160000 commit ${base}\tsub\n` });
    const commit = await git(dir, ['commit-tree', root, '-p', base, '-m', 'submodule']);
    await fx.work.push({ oid: commit });
    const { reader } = await fx.source().sync();

    assert.equal(await reader.readFile('nope.yml'), undefined);
    assert.equal(await reader.readFile('nope/deeper.yml'), undefined);
    assert.equal(await reader.readFile('a.yml/below'), undefined);
    assert.equal(await reader.readFile('a.yml'), 'a: 1\n');
    await assert.rejects(reader.readFile(''), isCode('NotAFile'));
    await assert.rejects(reader.readFile('sub'), isCode('NotAFile'));
    await assert.rejects(reader.readFile('sub/inner.yml'), isCode('NotAFile'));
    assert.deepEqual(await reader.listDir('sub'), []);
    assert.deepEqual(await reader.listDir(''), ['a.yml', 'sub']);
  } finally {
    await fx.close();
  }
});

test('directory listings match the directory reader of the same tree', async () => {
  const fx = await sourceFixture();
  try {
    await fx.work.write({
      'appliances/b/appliance.yml': 'name: b\n',
      'appliances/B/appliance.yml': 'name: B\n',
      'appliances/a/env.yml': 'e: 1\n',
      'appliances/a-1/appliance.yml': 'name: a-1\n',
      'apps/ecs.yml': 'x: 1\n',
      'README.md': 'hi\n',
    });
    await fx.work.symlink('appliances/alias', 'b');
    await fx.work.commit('more');
    await fx.work.push();
    const { reader } = await fx.source().sync();
    const dir = dirRepoReader(fx.work.dir);
    for (const rel of ['', 'appliances', 'appliances/a', 'appliances/alias', 'apps', 'missing', 'README.md']) {
      assert.deepEqual(await reader.listDir(rel), await dir.listDir(rel), rel);
    }
    assert.deepEqual(await reader.listDir('appliances'), ['B', 'a', 'a-1', 'alias', 'b']);
  } finally {
    await fx.close();
  }
});

test('a tree entry git would refuse (.git) is a PathEscape; the rest of the commit reads normally', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const good = await source.sync();
    const dir = fx.work.dir;
    const blob = await git(dir, ['hash-object', '-w', '--stdin'], { input: 'payload\n' });
    const inner = await git(dir, ['mktree'], { input: `100644 blob ${blob}\t.git\n` });
    const root = await git(dir, ['mktree'], { input: `100644 blob ${blob}\ta.yml\n040000 tree ${inner}\tzz\n` });
    const crafted = await git(dir, ['commit-tree', root, '-p', good.revision, '-m', 'crafted']);
    await fx.work.push({ oid: crafted });

    const { reader, revision } = await source.sync();
    assert.equal(revision, crafted);
    assert.equal(await reader.readFile('a.yml'), 'payload\n');
    await assert.rejects(reader.readFile('zz/.git'), (err: unknown) => {
      assert.ok(isAgentError(err, 'PathEscape'), String(err));
      assert.equal(err.data['entry'], '.git');
      return true;
    });
    await assert.rejects(reader.listDir('zz'), isCode('PathEscape'));
  } finally {
    await fx.close();
  }
});
