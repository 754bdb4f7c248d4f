import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { run } from '../../agent/lib/exec.ts';
import {
  docker,
  openPostgresSuite,
  startPostgres,
  httpRequest,
  TEST_LABEL,
  type EnvInfo,
  type PostgresFixture,
} from '../../devenv/docker-env.ts';

const label = 'env-up';
let env: EnvInfo;
let pg: PostgresFixture;
let close: () => Promise<void>;

before(async () => ({ env, pg, close } = await openPostgresSuite(label)));
after(() => close());

/** psql in a throwaway container on the host network, so it goes through the published port. */
function psqlViaLoopback(passFile: string, sql: string) {
  return docker(
    env,
    [
      ...['run', '--rm', '--label', `${TEST_LABEL}=${label}`, '--network', 'host'],
      ...['-v', `${pg.secretsDir}:/secrets:ro`, '-e', `PGPASSFILE=/secrets/${passFile}`],
      ...['appliance-test/postgres:15', 'psql', '-X', '-At', '-h', '127.0.0.1', '-p', String(pg.port)],
      ...['-U', pg.user, '-d', pg.database, '-c', sql],
    ],
    { okCodes: [0, 2] },
  );
}

function basicAuth(): string {
  return `Basic ${Buffer.from(`${env.registry.username}:${env.registry.password}`).toString('base64')}`;
}

test('the docker engine answers and uses overlay2', async () => {
  const { stdout } = await docker(env, ['info', '--format', '{{.Driver}}']);
  assert.equal(stdout.trim(), 'overlay2');
});

test('the environment has restic, which the demo needs for its scheduled backups', async () => {
  // up.sh installs it (ENV_PACKAGES), as it installs the engine: the demo runs on this environment alone.
  const engine = await readFile(new URL('../../devenv/env/lib/engine.sh', import.meta.url), 'utf8');
  assert.match(engine, /^ENV_PACKAGES=\(.*\brestic\b.*\)$/m);
  const { stdout } = await run('restic', ['version']);
  assert.match(stdout, /^restic \d+\.\d+/);
});

test('the Debian base image runs commands', async () => {
  await docker(env, ['run', '--rm', '--label', `${TEST_LABEL}=${label}`, 'appliance-test/debian:bookworm', 'true']);
  const { stdout } = await docker(env, [
    ...['run', '--rm', '--label', `${TEST_LABEL}=${label}`, 'appliance-test/debian:bookworm'],
    ...['sh', '-c', '. /etc/os-release && echo "$VERSION_CODENAME"'],
  ]);
  assert.equal(stdout.trim(), 'bookworm');
});

test('postgres accepts its password on the port published on 127.0.0.1, and refuses a wrong one', async () => {
  const ok = await psqlViaLoopback('pgpass', 'select current_user');
  assert.equal(ok.exitCode, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), pg.user);

  await writeFile(`${pg.secretsDir}/wrong-pgpass`, `*:*:*:${pg.user}:not-the-password\n`, { mode: 0o600 });
  const refused = await psqlViaLoopback('wrong-pgpass', 'select 1');
  assert.equal(refused.exitCode, 2);
  assert.match(refused.stderr, /password authentication failed/);
});

test('postgres stops with a fast shutdown on SIGTERM while a session is open', async () => {
  const db = await startPostgres(env, label, `${label}-pg-stop`);
  try {
    await docker(env, [
      'exec',
      '-d',
      db.container,
      'psql',
      '-U',
      db.user,
      '-d',
      db.database,
      '-c',
      'select pg_sleep(60)',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    await docker(env, ['kill', '--signal', 'TERM', db.container]);
    await docker(env, ['wait', db.container], { timeoutMs: 15_000 });
    assert.ok(Date.now() - started < 10_000, 'postgres took too long to stop');
    const { stdout } = await docker(env, ['inspect', '--format', '{{.State.ExitCode}}', db.container]);
    assert.equal(stdout.trim(), '0');
    const logs = await docker(env, ['logs', db.container]);
    assert.match(logs.stdout + logs.stderr, /received fast shutdown request/);
  } finally {
    await db.remove();
  }
});

test('the registry refuses anonymous access to pushed images and serves them with credentials', async () => {
  const demo = env.imageDetails['demo:v1'];
  assert.ok(demo, 'images.json has demo:v1');
  assert.equal(env.images['demo:v1'], `${env.registry.url}/demo@${demo.digest}`);
  const manifestUrl = `http://${env.registry.url}/v2/demo/manifests/${demo.digest}`;
  const accept = 'application/vnd.docker.distribution.manifest.v2+json';

  assert.equal((await httpRequest(manifestUrl, { headers: { accept } })).status, 401);
  // A tag, not the digest: dockerd answers a digest it already holds without asking the registry.
  const anonymousPull = await docker(env, ['pull', demo.tag], { anonymous: true, okCodes: [0, 1] });
  assert.notEqual(anonymousPull.exitCode, 0);
  assert.match(anonymousPull.stderr, /no basic auth credentials|unauthorized/i);

  const authorised = await httpRequest(manifestUrl, { headers: { accept, authorization: basicAuth() } });
  assert.equal(authorised.status, 200);
  assert.equal(`sha256:${createHash('sha256').update(authorised.body).digest('hex')}`, demo.digest);

  await docker(env, ['pull', demo.ref]);
  const pulled = await docker(env, ['image', 'inspect', '--format', '{{.Id}}', demo.ref]);
  assert.equal(pulled.stdout.trim(), demo.id);
});

test('an image pushed to the registry is pulled back by digest with credentials only', async () => {
  const marker = randomBytes(8).toString('hex');
  const repo = `${env.registry.url}/env-up-probe`;
  const container = `${label}-probe`;
  await docker(env, [
    ...['run', '--name', container, '--label', `${TEST_LABEL}=${label}`, 'appliance-test/debian:bookworm'],
    ...['sh', '-c', `echo ${marker} > /marker`],
  ]);
  await docker(env, ['commit', container, `${repo}:${marker}`]);
  const pushed = await docker(env, ['push', `${repo}:${marker}`]);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
  assert.ok(digest, pushed.stdout);
  const ref = `${repo}@${digest}`;
  try {
    await docker(env, ['rm', container]);
    await docker(env, ['rmi', `${repo}:${marker}`]);

    const anonymous = await docker(env, ['pull', ref], { anonymous: true, okCodes: [0, 1] });
    assert.notEqual(anonymous.exitCode, 0, 'anonymous pull by digest of content not held locally');
    await docker(env, ['pull', ref]);
    const { stdout } = await docker(env, ['run', '--rm', '--label', `${TEST_LABEL}=${label}`, ref, 'cat', '/marker']);
    assert.equal(stdout.trim(), marker);
  } finally {
    await docker(env, ['rmi', ref], { okCodes: [0, 1] });
    await httpRequest(`http://${env.registry.url}/v2/env-up-probe/manifests/${digest}`, {
      method: 'DELETE',
      headers: { authorization: basicAuth() },
    });
  }
});

test('every image up.sh pushed is pinned by digest in the registry', () => {
  assert.deepEqual(Object.keys(env.images).sort(), [
    'caddy:2.6',
    'debian:bookworm',
    'demo:v1',
    'demo:v2',
    'demo:v3',
    'demo:v4',
    'postgres:15',
  ]);
  for (const [name, ref] of Object.entries(env.images)) {
    assert.match(ref, new RegExp(`^${env.registry.url.replaceAll('.', '\\.')}/[a-z]+@sha256:[0-9a-f]{64}$`), name);
  }
});
