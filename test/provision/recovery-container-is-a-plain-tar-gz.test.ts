import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isAgentError } from '../../agent/core/errors.ts';
import { run } from '../../agent/lib/exec.ts';
import { packContainer, unpackContainer } from '../../agent/provision/recovery-archive.ts';
import { packTar, unpackTar } from '../../agent/provision/tar.ts';
import { tempDir } from './helpers.ts';

const files = [
  { name: 'bootstrap.yml', data: Buffer.from('name: demo\nrepo:\n  url: https://git.example.org/x.git\n') },
  { name: 'age.key', data: Buffer.from('# a comment\nAGE-SECRET-KEY-1QQQ\n') },
  { name: 'big.bin', data: randomBytes(70_001) },
  { name: 'empty', data: Buffer.alloc(0) },
];

test('GNU tar extracts the container byte for byte, files mode 0600', async (t) => {
  const dir = await tempDir(t);
  const container = packContainer(files, new Date('2025-01-01T00:00:00Z'));
  await writeFile(join(dir, 'c.tar.gz'), container);
  const listing = await run('tar', ['-tvzf', join(dir, 'c.tar.gz')]);
  assert.match(listing.stdout, /-rw------- root\/root\s+70001 2025-01-01 00:00 big\.bin/);
  await run('tar', ['-xzf', join(dir, 'c.tar.gz'), '-C', dir]);
  for (const f of files) {
    assert.deepEqual(await readFile(join(dir, f.name)), f.data, f.name);
    assert.equal((await stat(join(dir, f.name))).mode & 0o777, 0o600);
  }
  assert.deepEqual(
    unpackContainer(container).map((f) => [f.name, Buffer.from(f.data)]),
    files.map((f) => [f.name, f.data]),
  );
});

test('the same files and date give the same container', () => {
  const when = new Date('2025-01-01T00:00:00Z');
  assert.deepEqual(packContainer(files, when), packContainer(files, when));
});

test('names that are not flat or are repeated are refused on both sides', () => {
  for (const name of ['../etc/passwd', 'a/b', '.hidden', '', 'x'.repeat(101)])
    assert.throws(
      () => packTar([{ name, data: Buffer.from('x') }], 0),
      (err: unknown) => isAgentError(err, 'FileNameInvalid'),
      name,
    );
  assert.throws(
    () => packTar([files[0]!, files[0]!], 0),
    (err: unknown) => isAgentError(err, 'FileNameDuplicate'),
  );
  // A hostile archive: rewrite a valid header's name to a path, fixing its checksum.
  const tar = packTar([{ name: 'aaaaaaaaaaaaa', data: Buffer.from('x') }], 0);
  tar.set(Buffer.from('../../etc/pwd'), 0);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[i]!;
  tar.set(Buffer.from(sum.toString(8).padStart(6, '0') + '\0 '), 148);
  assert.throws(
    () => unpackTar(tar),
    (err: unknown) => isAgentError(err, 'ArchiveInvalid') && /not a valid file name/.test(err.message),
  );
});

test('damaged archives and oversized data are refused', () => {
  const tar = packTar(files.slice(0, 1), 0);
  const bad = Uint8Array.from(tar);
  bad[10] = 0x41;
  assert.throws(
    () => unpackTar(bad),
    (err: unknown) => isAgentError(err, 'ArchiveInvalid'),
  );
  assert.throws(
    () => unpackTar(tar.subarray(0, 512)),
    (err: unknown) => isAgentError(err, 'ArchiveInvalid'),
  );
  assert.throws(
    () => unpackContainer(Buffer.from('not gzip')),
    (err: unknown) => isAgentError(err, 'ArchiveInvalid'),
  );
  const bomb = gzipSync(Buffer.alloc(65 * 1024 * 1024));
  assert.throws(
    () => unpackContainer(bomb),
    (err: unknown) => isAgentError(err, 'ArchiveInvalid'),
  );
});
