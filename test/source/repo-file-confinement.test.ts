import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile, symlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { readRepoFile, readRepoFileBytes, resolveInside } from '../../agent/source/index.ts';
import { tempDir } from '../support/git-repo.ts';
import { sourceFixture } from './fixture.ts';

const isCode = (code: string) => (err: unknown) => isAgentError(err, code);

test('paths with .. or absolute paths are refused before touching the disk', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'ok.yml'), 'ok\n');
    for (const bad of ['../etc/passwd', 'a/../../x', '/etc/passwd', 'a/..', '..', '', 'a\0b']) {
      await assert.rejects(resolveInside(root, bad), isCode('PathEscape'), bad);
    }
    assert.equal(await readRepoFile(root, 'ok.yml'), 'ok\n');
    assert.equal(await resolveInside(root, 'missing/file.yml'), join(root, 'missing/file.yml'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('symlinks committed to the repo that lead outside the checkout are refused', async () => {
  const fx = await sourceFixture();
  const outside = await tempDir('outside-');
  try {
    await writeFile(join(outside, 'secret'), 'not for the agent\n');
    await fx.work.commit('links', {
      files: { 'appliances/a/real.yml': 'inside\n' },
    });
    await fx.work.symlink('appliances/a/env.yml', join(outside, 'secret'));
    await fx.work.symlink('appliances/a/up.yml', '../../../../../../../../../../etc/passwd');
    await fx.work.symlink('appliances/b', outside);
    await fx.work.symlink('appliances/a/alias.yml', 'real.yml');
    await fx.work.commit('links');
    await fx.work.push();
    const { dir } = await fx.source().sync();

    await assert.rejects(readRepoFile(dir, 'appliances/a/env.yml'), isCode('PathEscape'));
    await assert.rejects(readRepoFile(dir, 'appliances/a/up.yml'), isCode('PathEscape'));
    await assert.rejects(readRepoFile(dir, 'appliances/b/secret'), isCode('PathEscape'));
    await assert.rejects(resolveInside(dir, 'appliances/b/not-yet-there.yml'), isCode('PathEscape'));
    assert.equal(await readRepoFile(dir, 'appliances/a/alias.yml'), 'inside\n');
  } finally {
    await fx.close();
    await rm(outside, { recursive: true, force: true });
  }
});

test('files over the size cap are refused; missing files and directories have their own codes', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'big.yml'), Buffer.alloc(4097, 0x61));
    await writeFile(join(root, 'exact.yml'), Buffer.alloc(4096, 0x61));
    await mkdir(join(root, 'dir'));
    await symlink('big.yml', join(root, 'link.yml'));
    await assert.rejects(readRepoFile(root, 'big.yml', { maxBytes: 4096 }), (err: unknown) => {
      assert.ok(isAgentError(err, 'FileTooLarge'));
      assert.deepEqual(err.data, { path: 'big.yml', size: 4097, maxBytes: 4096 });
      return true;
    });
    await assert.rejects(readRepoFile(root, 'link.yml', { maxBytes: 4096 }), isCode('FileTooLarge'));
    assert.equal((await readRepoFileBytes(root, 'exact.yml', { maxBytes: 4096 })).length, 4096);
    await assert.rejects(readRepoFile(root, 'nope.yml'), isCode('FileNotFound'));
    await assert.rejects(readRepoFile(root, 'dir'), isCode('NotAFile'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
