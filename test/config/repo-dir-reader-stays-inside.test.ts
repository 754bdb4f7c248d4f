import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { isAgentError } from '../../agent/core/errors.ts';

test('reads files inside the root, lists directories, and answers undefined for missing files', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'repo-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'apps', 'a'), { recursive: true });
  await writeFile(join(root, 'apps', 'a', 'app.yml'), 'name: a\n');
  const repo = dirRepoReader(root);
  assert.equal(await repo.readFile('apps/a/app.yml'), 'name: a\n');
  assert.equal(await repo.readFile('apps/b/app.yml'), undefined);
  assert.deepEqual(await repo.listDir('apps'), ['a']);
  assert.deepEqual(await repo.listDir('nope'), []);
});

test('refuses .. paths, absolute paths, symlinks out of the root, and oversized files', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'repo-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'repo');
  await mkdir(root);
  await writeFile(join(base, 'outside.yml'), 'secret: 1\n');
  await symlink(join(base, 'outside.yml'), join(root, 'link.yml'));
  await writeFile(join(root, 'big.yml'), 'x'.repeat(100));
  const repo = dirRepoReader(root, { maxBytes: 50 });
  for (const rel of ['../outside.yml', '/etc/passwd', 'link.yml']) {
    await assert.rejects(repo.readFile(rel), (err: unknown) => isAgentError(err, 'PathEscape'), rel);
  }
  await assert.rejects(repo.readFile('big.yml'), (err: unknown) => isAgentError(err, 'FileTooLarge'));
});
