import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../agent/lib/atomic-write.ts';
import { tempDir } from '../../devenv/git-repo.ts';

test('writes content with the requested mode and leaves no temp file', async () => {
  const dir = await tempDir('atomic-');
  const path = join(dir, 'sub', 'secret.txt');
  await writeFileAtomic(path, 'hello', { mode: 0o600 });
  assert.equal(await readFile(path, 'utf8'), 'hello');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(join(dir, 'sub')), ['secret.txt']);
});

test('replaces an existing file whole', async () => {
  const dir = await tempDir('atomic-');
  const path = join(dir, 'state.json');
  await writeFile(path, 'old content that is longer');
  await writeFileAtomic(path, 'new');
  assert.equal(await readFile(path, 'utf8'), 'new');
});

test('a failed write keeps the old file and cleans up', async () => {
  const dir = await tempDir('atomic-');
  const path = join(dir, 'state.json');
  await writeFile(path, 'old');
  // A directory in place of the target makes the rename fail after the temp file was written.
  const target = join(dir, 'blocked');
  await writeFileAtomic(join(target, 'x'), 'x');
  await assert.rejects(writeFileAtomic(target, 'new'));
  assert.equal(await readFile(path, 'utf8'), 'old');
  assert.deepEqual((await readdir(dir)).sort(), ['blocked', 'state.json']);
});
