import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { runRender } from '../../agent/cli/render.ts';
import { startGitServer } from '../../devenv/git-server.ts';
import { createBareRepo, git, tempDir } from '../../devenv/git-repo.ts';
import { captureIo } from './golden.ts';

const root = join(import.meta.dirname, '..', '..');

test('render --repo URL clones the example repo over smart HTTP and masks secrets', async (t) => {
  const serverRoot = await tempDir();
  const bare = await createBareRepo(serverRoot, 'fleet.git');
  const work = await tempDir();
  await cp(join(root, 'example-config-repo'), work, { recursive: true });
  await git(work, ['init', '-q', '-b', 'main']);
  await git(work, ['add', '-A']);
  await git(work, ['commit', '-q', '-m', 'example fleet']);
  const head = await git(work, ['rev-parse', 'HEAD']);
  await git(work, ['push', '-q', bare, 'main']);
  const server = await startGitServer({ root: serverRoot });
  t.after(() => server.stop());

  const io = captureIo();
  await runRender(
    { repo: server.url('fleet.git'), name: 'demo', identity: join(root, 'test/fixtures/keys/demo.agekey'), json: true },
    io,
  );
  assert.equal(io.code, 0, io.err);
  const state = JSON.parse(io.out) as { revision: string; site: { domain: string; backup: { password: string } } };
  assert.equal(state.revision, head);
  assert.equal(state.site.domain, 'demo.appliance.test');
  assert.equal(state.site.backup.password, '***');
});

test('render --repo URL of an unreachable server exits 2 with a clear message', async () => {
  const io = captureIo();
  await runRender(
    { repo: 'http://127.0.0.1:9/nothing.git', name: 'demo', identity: join(root, 'test/fixtures/keys/demo.agekey') },
    io,
  );
  assert.equal(io.code, 2);
  assert.match(io.err, /127\.0\.0\.1:9/);
});
