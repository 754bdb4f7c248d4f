import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { loadBootstrap } from '../../agent/config/bootstrap.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { GitSource } from '../../agent/source/index.ts';
import { startGitServer } from '../../devenv/git-server.ts';
import { createRepoPair, tempDir } from '../../devenv/git-repo.ts';
import { captureLogs } from './fixture.ts';

const auth = { username: 'agent', password: 'token-sent-only-where-allowed' };

/** An IPv4 address of this machine that is not loopback (the docker bridge, the uplink). */
function outsideAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
}

test('http:// to a host that is not loopback is refused before any request, unless allowed', async (t) => {
  const host = outsideAddress();
  if (host === undefined) {
    t.skip('this machine has no non-loopback IPv4 address');
    return;
  }
  const root = await tempDir('insecure-http-');
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'repos'));
  const { work } = await createRepoPair(join(root, 'repos'), 'config.git');
  const head = await work.commit('initial', { files: { 'a.yml': 'v: 1\n' } });
  await work.push();
  const server = await startGitServer({ root: join(root, 'repos'), auth, host });
  t.after(() => server.stop());
  const { log, secrets } = captureLogs();
  const options = { url: server.url('config.git'), branch: 'main', auth, timeoutMs: 10_000 };

  assert.throws(
    () => new GitSource({ log, secrets }, { ...options, stateDir: join(root, 'refused') }),
    (err: unknown) => isAgentError(err, 'InsecureSourceUrl') && !String(err).includes(host),
  );
  assert.equal(server.counts().total, 0, 'no request (and so no credentials) went out');

  const allowed = new GitSource(
    { log, secrets },
    { ...options, stateDir: join(root, 'allowed'), allowInsecureHttp: true },
  );
  assert.equal((await allowed.sync()).revision, head);
  assert.notEqual(server.counts().total, 0);
});

test('the bootstrap file refuses http:// to a remote host unless allow_insecure_http is set', () => {
  const doc = (repo: string): string =>
    `name: demo\nrepo: ${repo}\nage_identity_file: /k\ntrust: { allow_unsigned: true }\n`;
  const refused = loadBootstrap(doc('{ url: http://git.example.org/fleet.git }'), 'b.yml');
  assert.deepEqual(!refused.ok && refused.errors.map((e) => e.path), ['/repo/url']);
  for (const repo of [
    '{ url: http://git.example.org/fleet.git, allow_insecure_http: true }',
    '{ url: http://127.0.0.1:8080/fleet.git }',
    '{ url: "http://[::1]:8080/fleet.git" }',
    '{ url: http://localhost/fleet.git }',
    '{ url: https://git.example.org/fleet.git }',
  ]) {
    const r = loadBootstrap(doc(repo), 'b.yml');
    assert.ok(r.ok, `${repo}: ${JSON.stringify(!r.ok && r.errors)}`);
  }
  const pointless = loadBootstrap(doc('{ url: https://git.example.org/f.git, allow_insecure_http: true }'), 'b.yml');
  assert.deepEqual(!pointless.ok && pointless.errors.map((e) => e.path), ['/repo/allow_insecure_http']);
});
