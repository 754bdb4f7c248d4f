import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { parseDocument } from 'yaml';
import { register } from '../../agent/cli/backup.ts';
import type { CliIo } from '../../agent/cli/io.ts';
import { Restic } from '../../agent/drivers/restic/restic.ts';
import { editEnv } from '../../devenv/edit-env.ts';
import { removeAll, tempRoot } from '../backup/helpers.ts';
import { docker, ensureEnv, removeLabelled, TEST_LABEL, waitHealthy, type EnvInfo } from '../../devenv/docker-env.ts';

const LABEL = 'cli-backup';
const NAME = 'clibk';
const projectRoot = path.join(import.meta.dirname, '..', '..');
const keys = path.join(projectRoot, 'test', 'fixtures', 'keys');
const DB_PASSWORD_FILE = 'db-password';
let env: EnvInfo;
let root: string;
let repoDir: string;
let dataDir: string;
let resticPassword: string;

/** The example repo's demo appliance as `clibk`, with an uploads volume and a local restic repository. */
async function configRepo(): Promise<void> {
  await cp(path.join(projectRoot, 'example-config-repo'), repoDir, { recursive: true });
  await cp(path.join(repoDir, 'appliances', 'demo'), path.join(repoDir, 'appliances', NAME), { recursive: true });
  const appFile = path.join(repoDir, 'apps', 'demo', 'app.yml');
  const app = parseDocument(await readFile(appFile, 'utf8'));
  app.setIn(['volumes', 'uploads'], app.createNode({ kind: 'data' }));
  app.setIn(['services', 'web', 'volumes'], app.createNode([{ volume: 'uploads', target: '/uploads' }]));
  await writeFile(appFile, app.toString());
  await editEnv(path.join(repoDir, 'appliances', NAME, 'env.yml'), path.join(keys, 'operator.agekey'), (doc) => {
    doc.setIn(['backup', 'repository'], path.join(root, 'restic'));
    doc.setIn(['storage', 'paths', 'data'], dataDir);
    resticPassword = String(doc.getIn(['backup', 'password']));
  });
}

/** The appliance's database container as the agent would run it: `<name>-postgres`, user and db `demo`. */
async function startDatabase(): Promise<void> {
  const secrets = path.join(root, 'pg-secrets');
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  await writeFile(path.join(secrets, DB_PASSWORD_FILE), 'not-the-real-one-123', { mode: 0o600 });
  await docker(env, [
    ...['run', '-d', '--name', `${NAME}-postgres`, '--label', `${TEST_LABEL}=${LABEL}`],
    ...['-v', `${secrets}:/run/secrets:ro`, '-e', `POSTGRES_PASSWORD_FILE=/run/secrets/${DB_PASSWORD_FILE}`],
    ...['-e', 'POSTGRES_USER=demo', '-e', 'POSTGRES_DB=demo', 'appliance-test/postgres:15'],
  ]);
  await waitHealthy(env, `${NAME}-postgres`);
}

async function psql(sql: string): Promise<string> {
  const r = await docker(env, [
    'exec',
    `${NAME}-postgres`,
    'psql',
    '-X',
    '-A',
    '-t',
    '-U',
    'demo',
    '-d',
    'demo',
    '-c',
    sql,
  ]);
  return r.stdout.trim();
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const common = ['--repo', repoDir, '--name', NAME, '-i', path.join(keys, 'demo.agekey')];
  return run([...args, ...common, '--state-dir', path.join(root, 'state')]);
}

/** The command as on an appliance: name, identity and state directory from the bootstrap file. */
async function onAppliance(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const boot = path.join(root, 'bootstrap.yml');
  await writeFile(
    boot,
    [
      `name: ${NAME}`,
      'repo: { url: "http://127.0.0.1:9/not-used-when-repo-is-given.git" }',
      `age_identity_file: ${path.join(keys, 'demo.agekey')}`,
      `state_dir: ${path.join(root, 'state')}`,
      'trust: { allow_unsigned: true }',
      '',
    ].join('\n'),
  );
  return run([...args, '--config', boot, '--repo', repoDir]);
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  let code = 0;
  const io: CliIo = {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    setExitCode: (c) => {
      code = c;
    },
    env: {},
  };
  const program = new Command('appliance').exitOverride();
  register(program, io);
  await program.parseAsync(['node', 'appliance', 'backup', ...args]);
  for (const text of [out, err]) assert.ok(!text.includes(resticPassword), 'the restic password is never printed');
  return { code, out, err };
}

before(async () => {
  env = await ensureEnv();
  await removeLabelled(env, LABEL);
  root = await tempRoot('cli-backup-');
  repoDir = path.join(root, 'config');
  dataDir = path.join(root, 'data');
  await configRepo();
  await startDatabase();
});

after(async () => {
  await removeLabelled(env, LABEL);
  await removeAll(root);
});

test('backup run, list, check --restore-test, restore and status on the command line', async () => {
  // No backup yet: the repository does not exist, and list says so instead of "no backups".
  const missing = await cli('list');
  assert.equal(missing.code, 1, missing.out);
  assert.match(missing.err, /the backup repository \(env\.yml backup\.repository\) does not exist/);
  assert.equal(missing.out, '');

  const refused = await cli('run');
  assert.equal(refused.code, 1, 'a refusal exits 1 (docs/errors.md: BackupDatabaseEmpty is refused)');
  assert.match(refused.err, /refusing to back up: database demo is empty/);

  await psql("CREATE TABLE items (id serial, note text); INSERT INTO items (note) VALUES ('one'), ('two')");
  await psql("CREATE TABLE schema_migrations (name text); INSERT INTO schema_migrations VALUES ('001_items')");
  await mkdir(path.join(dataDir, 'uploads'), { recursive: true });
  await writeFile(path.join(dataDir, 'uploads', 'report.pdf'), 'pdf bytes');
  const ran = await cli('run', '--json');
  assert.equal(ran.code, 0, ran.err);
  const result = JSON.parse(ran.out) as { snapshotId: string; totalFiles: number };
  assert.equal(result.totalFiles, 4, 'manifest, dump, env.yml and one upload');

  // The snapshot holds env.yml as committed: encrypted, with no plaintext secret in it.
  const chunks: Buffer[] = [];
  const sink = new PassThrough().on('data', (c: Buffer) => chunks.push(c));
  await new Restic({ repository: path.join(root, 'restic'), password: resticPassword }).dump(
    'latest',
    '/env/env.yml',
    sink,
  );
  const envInBackup = Buffer.concat(chunks).toString();
  assert.match(envInBackup, /password: ENC\[AES256_GCM,/);
  assert.ok(!envInBackup.includes(resticPassword));

  const listed = await onAppliance('list');
  assert.equal(listed.code, 0, listed.err);
  assert.match(
    listed.out,
    new RegExp(`^${result.snapshotId.slice(0, 8)}  \\d{4}-\\d\\d-\\d\\d .* revision worktree\\n$`),
  );

  const checked = await cli('check', '--restore-test');
  assert.equal(checked.code, 0, checked.err + checked.out);
  assert.match(checked.out, /repository: no errors\nrestore test of \w+: 1 files, 2 tables, 3 rows identical/);

  await psql('DELETE FROM items');
  await writeFile(path.join(dataDir, 'uploads', 'report.pdf'), 'overwritten');
  const restored = await cli('restore', '--snapshot', result.snapshotId.slice(0, 8));
  assert.equal(restored.code, 0, restored.err);
  // Rows per table: the app's 2 items are not mixed up with its migration bookkeeping.
  assert.match(
    restored.out,
    /restored \w+: 1 files, 2 tables; previous state kept as backup \w+\n {2}public\.items: 2 rows\n {2}public\.schema_migrations: 1 rows\n$/,
  );
  assert.equal(await psql("SELECT string_agg(note, ',' ORDER BY id) FROM items"), 'one,two');
  assert.equal(await readFile(path.join(dataDir, 'uploads', 'report.pdf'), 'utf8'), 'pdf bytes');

  const status = JSON.parse((await cli('status')).out) as { condition: { status: boolean; reason: string } };
  assert.deepEqual([status.condition.status, status.condition.reason], [false, 'Fresh']);
});
