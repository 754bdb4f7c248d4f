import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { scanVolumes, type HashCache } from '../../agent/backup/file-manifest.ts';
import { run } from '../../agent/lib/exec.ts';

let root: string;
let files: string;

const sha = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');
const ODD = 'odd name\twith tab\nand newline é';
const BINARY = Buffer.from([0, 1, 2, 255, 10, 0]);

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'scan-'));
  files = path.join(root, 'files');
  await mkdir(path.join(files, 'dir', '.appliance-restore'), { recursive: true });
  await mkdir(path.join(files, '.appliance-restore', 'deep'), { recursive: true });
  await mkdir(path.join(files, 'empty'));
  await writeFile(path.join(files, 'a.txt'), 'alpha\n');
  await writeFile(path.join(files, 'dir', 'b.bin'), BINARY);
  await writeFile(path.join(files, 'dir', ODD), 'odd\n');
  // Only the top level's restore work directories are the restore's; one deeper is data.
  await writeFile(path.join(files, 'dir', '.appliance-restore', 'kept'), 'kept\n');
  await writeFile(path.join(files, '.appliance-restore', 'deep', 'skipped'), 'skipped\n');
  await symlink('a.txt', path.join(files, 'link'));
  await symlink('../nowhere', path.join(files, 'dangling'));
  // A FIFO is neither listed nor opened (opening it would block the scan).
  await run('mkfifo', [path.join(files, 'dir', 'pipe')]);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('every regular file and link once, sorted, with its size and sha256; a link by its target', async () => {
  const scan = await scanVolumes([{ name: 'files', root: files }]);
  assert.deepEqual(scan.files, [
    { volume: 'files', path: 'a.txt', size: 6, sha256: sha('alpha\n') },
    { volume: 'files', path: 'dangling', size: '../nowhere'.length, sha256: sha('../nowhere'), link: true },
    { volume: 'files', path: 'dir/.appliance-restore/kept', size: 5, sha256: sha('kept\n') },
    { volume: 'files', path: 'dir/b.bin', size: BINARY.length, sha256: sha(BINARY) },
    { volume: 'files', path: `dir/${ODD}`, size: 4, sha256: sha('odd\n') },
    { volume: 'files', path: 'link', size: 'a.txt'.length, sha256: sha('a.txt'), link: true },
  ]);
  assert.deepEqual(scan.volumes, [{ name: 'files', path: files, files: 6, bytes: 6 + 5 + BINARY.length + 4 }]);
});

test('a volume that does not exist is empty; one that is a file is an error', async () => {
  const scan = await scanVolumes([{ name: 'gone', root: path.join(root, 'missing'), path: '/srv/gone' }]);
  assert.deepEqual(scan, { files: [], volumes: [{ name: 'gone', path: '/srv/gone', files: 0, bytes: 0 }] });
  await assert.rejects(scanVolumes([{ name: 'file', root: path.join(files, 'a.txt') }]), /not a directory/);
});

test('hashes come from the cache while a file is unchanged, with the stamps earlier agents wrote', async () => {
  const cache: HashCache = new Map();
  await scanVolumes([{ name: 'files', root: files }], cache);
  // The stamp is size, mtime and ctime in nanoseconds, and inode, as node's bigint lstat gives them.
  const st = lstatSync(path.join(files, 'a.txt'), { bigint: true });
  assert.equal(cache.get('files/a.txt')?.stamp, `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`);
  assert.equal(cache.size, 6);

  // A cached hash is used as it is: the file is not read again while its stamp holds.
  const entry = cache.get('files/dir/b.bin');
  assert.ok(entry !== undefined);
  cache.set('files/dir/b.bin', { ...entry, sha256: 'f'.repeat(64) });
  let scan = await scanVolumes([{ name: 'files', root: files }], cache);
  assert.equal(scan.files.find((f) => f.path === 'dir/b.bin')?.sha256, 'f'.repeat(64));

  // Rewritten with the same size and even the same mtime: the ctime tells, and it is read again.
  const before = lstatSync(path.join(files, 'dir', 'b.bin'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const changed = Buffer.from(BINARY).reverse();
  await writeFile(path.join(files, 'dir', 'b.bin'), changed);
  await utimes(path.join(files, 'dir', 'b.bin'), before.atime, before.mtime);
  scan = await scanVolumes([{ name: 'files', root: files }], cache);
  assert.equal(scan.files.find((f) => f.path === 'dir/b.bin')?.sha256, sha(changed));
  assert.equal(cache.get('files/dir/b.bin')?.sha256, sha(changed));

  // Files that are gone leave the cache.
  await rm(path.join(files, 'dangling'));
  await scanVolumes([{ name: 'files', root: files }], cache);
  assert.equal(cache.has('files/dangling'), false);
  assert.equal(cache.size, 5);
});

test('a stopped scan ends with an error instead of reading on', async () => {
  const stop = new AbortController();
  stop.abort();
  await assert.rejects(scanVolumes([{ name: 'files', root: files }], new Map(), stop.signal));
});
