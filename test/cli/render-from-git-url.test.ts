import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runRender } from '../../agent/cli/render.ts';
import { servedExampleRepo } from '../../devenv/served-example.ts';
import { captureIo } from './golden.ts';

const root = join(import.meta.dirname, '..', '..');

test('render --repo URL clones the example repo over smart HTTP and masks secrets', async (t) => {
  const { server, head } = await servedExampleRepo();
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
