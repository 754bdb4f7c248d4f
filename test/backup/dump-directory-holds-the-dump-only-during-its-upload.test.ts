import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { createBackupContext } from '../../agent/backup/context.ts';
import { readManifest } from '../../agent/backup/restic-snapshots.ts';
import { runBackup } from '../../agent/backup/run-backup.ts';
import { DUMP_DIR_NAME, DUMP_DIR_TARGET } from '../../agent/config/resolve-dump-dir.ts';
import type { BackupTarget } from '../../agent/core/backup-target.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { DockerClient } from '../../agent/drivers/docker/client.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { openPostgresSuite, startPostgres, type EnvInfo, type PostgresFixture } from '../../devenv/docker-env.ts';
import { pgPassword, seedDatabase, seedFiles, testTarget } from './helpers.ts';

// The dump directory: on the data path, bind-mounted into the database container, where
// pg_dump writes the dump that restic then reads, with no copy out through the engine.
const LABEL = 'backup-dump-dir';
let env: EnvInfo;
let plain: PostgresFixture;
let mounted: PostgresFixture;
let root: string;
let dumpDir: string;
let close: () => Promise<void>;

before(async () => {
  ({ env, pg: plain, root, close } = await openPostgresSuite(LABEL));
  dumpDir = path.join(root, 'data', DUMP_DIR_NAME);
  await mkdir(dumpDir, { recursive: true });
  mounted = await startPostgres(env, LABEL, `${LABEL}-mounted`, { mounts: [`${dumpDir}:${DUMP_DIR_TARGET}`] });
  await seedDatabase(mounted);
  await seedDatabase(plain);
  await seedFiles(path.join(root, 'data', 'files'));
});
after(async () => {
  await mounted.remove();
  await close();
});

/**
 * restic through a script that, when it backs up, first records what the dump directory holds
 * (mode, owner, name) and, with `fail`, then fails as an unreachable repository would.
 */
async function resticSpy(name: string, fail: boolean): Promise<{ bin: string; seen: () => Promise<string[]> }> {
  const bin = path.join(root, `${name}.sh`);
  const log = path.join(root, `${name}.log`);
  await writeFile(
    bin,
    `#!/bin/sh
for a in "$@"; do
  if [ "$a" = backup ]; then
    stat -c '%a %u %n' '${dumpDir}' '${dumpDir}'/* >> '${log}'
    ${fail ? 'echo "Fatal: unable to save snapshot: connection refused" >&2; exit 1' : ''}
  fi
done
exec restic "$@"
`,
    { mode: 0o755 },
  );
  return { bin, seen: async () => (await readFile(log, 'utf8')).trim().split('\n') };
}

async function targetOn(fixture: PostgresFixture, repo: string): Promise<BackupTarget> {
  const target = testTarget({
    appliance: 'dumpdir',
    repository: path.join(root, repo),
    volumes: [{ name: 'files', hostPath: path.join(root, 'data', 'files') }],
    pg: fixture,
    password: await pgPassword(fixture),
  });
  if (target.database !== undefined) target.database.dumpDir = { hostPath: dumpDir, target: DUMP_DIR_TARGET };
  return target;
}

function contextOf(target: BackupTarget, state: string, resticBin: string): ReturnType<typeof createBackupContext> {
  return createBackupContext(target, {
    stateDir: path.join(root, state),
    log: createLogger({ level: 'silent' }),
    docker: new DockerClient({ socketPath: env.socketPath }),
    resticBin,
  });
}

test('pg_dump writes into the dump directory (0700, the dump 0600), which is empty after the upload', async () => {
  // What a killed backup would have left, in a directory made with the usual 0755.
  await writeFile(path.join(dumpDir, 'app.dump'), 'left by a killed backup');
  await chmod(dumpDir, 0o755);
  const spy = await resticSpy('ok', false);
  const ctx = contextOf(await targetOn(mounted, 'repo-ok'), 'state-ok', spy.bin);
  const result = await runBackup(ctx);

  const file = path.join(dumpDir, 'app.dump');
  assert.deepEqual(await spy.seen(), [`700 0 ${dumpDir}`, `600 0 ${file}`]);
  assert.deepEqual(await readdir(dumpDir), []);
  assert.equal((await stat(dumpDir)).mode & 0o777, 0o700);

  // The snapshot holds the dump at its path there, as the manifest says: a real custom-format dump.
  const restic = ctx.restic;
  assert.ok(restic !== undefined);
  const manifest = await readManifest(restic, result.snapshotId);
  assert.equal(manifest.database?.dump, file);
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  await restic.dump(result.snapshotId, file, sink);
  const dump = Buffer.concat(chunks);
  assert.equal(dump.subarray(0, 5).toString('latin1'), 'PGDMP');
  assert.equal(dump.length, manifest.database.dumpBytes);
  assert.ok((manifest.database.tables.find((t) => t.table === 'public.documents')?.rows ?? 0) === 2000);
});

test('a failed upload leaves no dump behind', async () => {
  const spy = await resticSpy('fail', true);
  const ctx = contextOf(await targetOn(mounted, 'repo-fail'), 'state-fail', spy.bin);
  await assert.rejects(runBackup(ctx), (err) => isAgentError(err));
  // The dump was there while restic ran, and is gone after its failure.
  assert.deepEqual(await spy.seen(), [`700 0 ${dumpDir}`, `600 0 ${path.join(dumpDir, 'app.dump')}`]);
  assert.deepEqual(await readdir(dumpDir), []);
});

test('a database container without the mount (made before the agent added it) is dumped through the engine', async () => {
  const spy = await resticSpy('plain', false);
  const ctx = contextOf(await targetOn(plain, 'repo-plain'), 'state-plain', spy.bin);
  const result = await runBackup(ctx);
  const restic = ctx.restic;
  assert.ok(restic !== undefined);
  const manifest = await readManifest(restic, result.snapshotId);
  assert.equal(manifest.database?.dump, '/db/app.dump');
  assert.ok(manifest.database.dumpBytes > 0);
  assert.deepEqual(await readdir(dumpDir), []);
});
