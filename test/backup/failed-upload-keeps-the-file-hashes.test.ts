import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { backupPaths } from '../../agent/backup/context.ts';
import { loadHashCache } from '../../agent/backup/file-manifest.ts';
import { runBackup } from '../../agent/backup/run-backup.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { Restic } from '../../agent/drivers/restic/restic.ts';
import { removeAll, seedFiles, tempRoot, testContext, testTarget } from './helpers.ts';

let root: string;

before(async () => {
  root = await tempRoot('backup-hash-cache-');
});
after(() => removeAll(root));

test('a backup whose upload fails keeps the hashes it computed, so the retry reads only what changed', async () => {
  const files = path.join(root, 'files');
  await seedFiles(files);
  // A repository the backup cannot open: its upload fails after the files were scanned.
  const repo = path.join(root, 'repo');
  await new Restic({ repository: repo, password: 'another-password-entirely' }).init();
  const target = testTarget({
    appliance: 'hashcache',
    repository: repo,
    volumes: [{ name: 'files', hostPath: files }],
  });
  const ctx = testContext(target, path.join(root, 'state'));
  await assert.rejects(runBackup(ctx), (err) => isAgentError(err, 'BackupPasswordWrong'));

  const cache = await loadHashCache(backupPaths(ctx.dir).hashes);
  const sha = createHash('sha256')
    .update(await readFile(path.join(files, 'docs', 'a.txt')))
    .digest('hex');
  assert.equal(cache.get('files/docs/a.txt')?.sha256, sha);
  assert.equal(cache.size, 4, [...cache.keys()].join(', '));
});
