import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { withBootstrapDefaults } from '../../agent/cli/bootstrap-defaults.ts';
import { runStatus } from '../../agent/cli/status.ts';
import { cycleFinished, initialStatus } from '../../agent/core/status.ts';
import { startHttpApi } from '../../agent/engine/http-api.ts';
import { createLogger } from '../../agent/lib/log.ts';
import { SecretRegistry } from '../../agent/lib/secrets.ts';
import { captureIo } from './golden.ts';

async function bootstrapFile(t: { after: (fn: () => Promise<void>) => void }, listen = '127.0.0.1:8700') {
  const dir = await mkdtemp(path.join(tmpdir(), 'ops-boot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bootstrap.yml');
  await writeFile(
    file,
    [
      'name: shop-prod',
      'repo:',
      '  url: https://git.example.org/fleet.git',
      '  branch: production',
      '  credentials_file: /etc/appliance/git-token',
      'age_identity_file: /etc/appliance/age.key',
      'state_dir: /srv/appliance-state',
      `listen: "${listen}"`,
      'docker_host: unix:///run/appliance-docker.sock',
      'trust: { allow_unsigned: true }',
      '',
    ].join('\n'),
  );
  return file;
}

test('repo, branch, token, name, identity and state dir come from the bootstrap file', async (t) => {
  const config = await bootstrapFile(t);
  assert.deepEqual(await withBootstrapDefaults({ config }, {}), {
    repo: 'https://git.example.org/fleet.git',
    branch: 'production',
    credentialsFile: '/etc/appliance/git-token',
    name: 'shop-prod',
    identity: '/etc/appliance/age.key',
    stateDir: '/srv/appliance-state',
    dockerHost: 'unix:///run/appliance-docker.sock',
  });
});

test('explicit flags win over the bootstrap; an identity from the environment too', async (t) => {
  const config = await bootstrapFile(t);
  const flags = { config, repo: '/srv/checkout', name: 'other', stateDir: '/tmp/state', identity: '/k' };
  assert.deepEqual(await withBootstrapDefaults(flags, {}), {
    repo: '/srv/checkout',
    name: 'other',
    stateDir: '/tmp/state',
    identity: '/k',
    dockerHost: 'unix:///run/appliance-docker.sock',
  });
  const fromEnv = await withBootstrapDefaults(
    { config },
    { APPLIANCE_AGE_IDENTITY_FILE: '/env.key', DOCKER_HOST: 'unix:///var/run/docker.sock' },
  );
  assert.equal(fromEnv.identity, undefined, 'the environment identity is resolved later and wins');
  assert.equal(fromEnv.dockerHost, undefined, 'DOCKER_HOST wins over the bootstrap');
});

test('a named bootstrap file that is missing or invalid is refused', async () => {
  await assert.rejects(
    withBootstrapDefaults({ config: '/nonexistent/bootstrap.yml' }, {}),
    (err: unknown) => (err as { code?: string }).code === 'BootstrapUnreadable',
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'ops-boot-'));
  const bad = path.join(dir, 'bootstrap.yml');
  await writeFile(bad, 'name: Not_Valid\n');
  await assert.rejects(
    withBootstrapDefaults({ config: bad }, {}),
    (err: unknown) => (err as { code?: string }).code === 'BootstrapInvalid',
  );
  await rm(dir, { recursive: true, force: true });
});

test('appliance status prints the agent /status readably, at the bootstrap listen address or --url', async (t) => {
  const quiet = createLogger({
    destination: new Writable({
      write: (_c, _e, cb) => {
        cb();
      },
    }),
  });
  let status = initialStatus('shop-prod', new Date('2026-01-01T00:00:00Z'));
  status = cycleFinished(
    status,
    {
      kind: 'stalled',
      revision: 'c0ffee'.repeat(7).slice(0, 40),
      reason: 'ConfigInvalid',
      code: 'ConfigInvalid',
      message: 'bad',
    },
    new Date(),
    new Date(),
  );
  status.configNotices = [{ code: 'ConfigWarning', message: 'appliance.yml: /policies/reboot: not supported yet' }];
  const api = await startHttpApi(
    { status: () => status, trigger: () => undefined, log: quiet, secrets: new SecretRegistry() },
    { listen: '127.0.0.1:0', staleAfterMs: 60_000 },
  );
  t.after(() => api.close());
  const config = await bootstrapFile(t, new URL(api.url).host);

  const io = captureIo();
  await runStatus({ config }, io);
  assert.equal(io.code, undefined, io.err);
  assert.match(io.out, /^appliance shop-prod\n/);
  assert.match(io.out, /^ {2}Ready {8}false ConfigInvalid: bad$/m);
  assert.match(io.out, /^ {2}Stalled {6}true {2}ConfigInvalid: bad$/m);
  assert.match(io.out, /^stalled on {10}c0ffeec0ffee$/m);
  assert.match(io.out, /^notice \(ConfigWarning\): appliance\.yml: \/policies\/reboot: not supported yet$/m);

  const json = captureIo();
  await runStatus({ url: api.url, json: true }, json);
  assert.equal((JSON.parse(json.out) as { appliance: string }).appliance, 'shop-prod');

  const down = captureIo();
  await runStatus({ url: 'http://127.0.0.1:9' }, down);
  assert.equal(down.code, 2);
  assert.match(down.err, /cannot reach the agent at http:\/\/127\.0\.0\.1:9\/status/);
});
