import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { AgentError } from '../../agent/core/errors.ts';
import { sourceFixture } from './fixture.ts';

const TOKEN = 'ghp_S3cr3tT0kenValue9f8e7d6c5b4a';
const auth = { username: 'agent', password: TOKEN };

async function rejection(p: Promise<unknown>): Promise<AgentError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AgentError, `expected an AgentError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

test('an unreachable remote is a transient SourceUnreachable and the last revision stays readable', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const { revision, reader } = await source.sync();
    await fx.server.stop();
    const err = await rejection(source.sync());
    assert.equal(err.code, 'SourceUnreachable');
    assert.equal(err.terminal, false);
    assert.match(err.message, new RegExp(fx.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    const current = await source.current();
    assert.equal(current?.revision, revision);
    assert.equal(await current.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
    assert.equal(await reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
  } finally {
    await fx.close();
  }
});

test('a server that stops answering hits the deadline; a 503 is transient too', async () => {
  const fx = await sourceFixture();
  try {
    fx.server.setFault({ kind: 'hang' });
    const started = Date.now();
    const err = await rejection(fx.source({ timeoutMs: 300 }).sync());
    assert.equal(err.code, 'SourceUnreachable');
    assert.ok(Date.now() - started < 5000);
    fx.server.setFault({ kind: 'status', status: 503 });
    const err503 = await rejection(fx.source().sync());
    assert.deepEqual([err503.code, err503.data['status']], ['SourceUnreachable', 503]);
    fx.server.setFault(undefined);
    assert.equal((await fx.source().sync()).changed, true);
  } finally {
    await fx.close();
  }
});

test('corrupt data from the server is SourceCorrupt; the last revision stays readable and the next sync recovers', async () => {
  const fx = await sourceFixture();
  try {
    const source = fx.source();
    const first = await source.sync();
    const next = await fx.work.commit('next', { files: { 'appliances/a/appliance.yml': 'version: 2\n' } });
    await fx.work.push();
    fx.server.setFault({ kind: 'corrupt', afterBytes: 100, kinds: ['uploadPack'] });
    const err = await rejection(source.sync());
    assert.deepEqual([err.code, err.terminal], ['SourceCorrupt', false]);
    const current = await source.current();
    assert.equal(current?.revision, first.revision);
    assert.equal(await current.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
    assert.equal(await first.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
    fx.server.setFault(undefined);
    const r = await source.sync();
    assert.deepEqual([r.changed, r.revision], [true, next]);
    assert.equal(await r.reader.readFile('appliances/a/appliance.yml'), 'version: 2\n');
    // The replacement store took the place of the old one, which still serves older readers.
    assert.deepEqual((await readdir(fx.stateDir)).sort(), ['repo.git', 'source.json']);
    assert.equal(await first.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
  } finally {
    await fx.close();
  }
});

test('wrong or missing credentials are a terminal SourceAuthFailed; a wrong path is SourceNotFound', async () => {
  const fx = await sourceFixture({ auth });
  try {
    const wrong = await rejection(fx.source({ auth: { username: 'agent', password: 'wrong-password' } }).sync());
    assert.deepEqual([wrong.code, wrong.terminal], ['SourceAuthFailed', true]);
    assert.equal((await rejection(fx.source({ auth: 'none' }).sync())).code, 'SourceAuthFailed');
    const missing = await rejection(fx.source({ url: fx.server.url('nope.git') }).sync());
    assert.deepEqual([missing.code, missing.terminal], ['SourceNotFound', true]);
    const branch = await rejection(fx.source({ branch: 'nope' }).sync());
    assert.equal(branch.code, 'SourceBranchMissing');
    // A first clone fetches without a separate poll: the fetch reports the missing branch.
    const fresh = await rejection(fx.source({ branch: 'nope', stateDir: join(fx.root, 'fresh') }).sync());
    assert.equal(fresh.code, 'SourceBranchMissing');
  } finally {
    await fx.close();
  }
});

test('the token never appears in .git/config, the state dir, errors or logs', async () => {
  const fx = await sourceFixture({ auth });
  try {
    // The credentials arrive in the URL: they are stripped from it and used via the auth header.
    const withUserinfo = fx.url.replace('http://', `http://agent:${TOKEN}@`);
    const source = fx.source({ url: withUserinfo, auth: 'none' });
    const ok = await source.sync();
    assert.equal(ok.changed, true);
    await fx.work.commit('next', { files: { 'b.yml': 'b\n' } });
    await fx.work.push();

    const errors: AgentError[] = [];
    fx.server.setFault({ kind: 'status', status: 500 });
    errors.push(await rejection(source.sync()));
    fx.server.setFault({ kind: 'corrupt', afterBytes: 200, kinds: ['uploadPack'] });
    errors.push(await rejection(source.sync()));
    fx.server.setFault(undefined);
    // The store was set aside: the next sync fetches a replacement and moves on.
    assert.equal((await source.sync()).changed, true);
    errors.push(await rejection(fx.source({ url: withUserinfo.replace(TOKEN, `${TOKEN}x`), auth: 'none' }).sync()));
    await fx.server.stop();
    errors.push(await rejection(source.sync()));
    assert.deepEqual(
      errors.map((e) => e.code),
      ['SourceUnreachable', 'SourceCorrupt', 'SourceAuthFailed', 'SourceUnreachable'],
    );

    const config = await readFile(join(fx.stateDir, 'repo.git', 'config'), 'utf8');
    assert.match(config, /url = http:\/\/127\.0\.0\.1:\d+\/config\.git/);
    const haystacks = [
      config,
      ...errors.flatMap((e) => [e.message, JSON.stringify(e), inspect(e, { depth: 10 }), String(e.stack)]),
      fx.logs.text(),
      ...(await allFiles(fx.stateDir)),
    ];
    assert.ok(fx.logs.text().includes('sync failed'), 'failures are logged');
    for (const text of haystacks) {
      assert.ok(!text.includes(TOKEN), `token leaked into: ${text.slice(0, 200)}`);
      assert.ok(!text.includes(Buffer.from(`agent:${TOKEN}`).toString('base64')), 'basic header leaked');
    }
  } finally {
    await fx.close();
  }
});

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push((await readFile(join(entry.parentPath, entry.name))).toString('latin1'));
  }
  return out;
}
