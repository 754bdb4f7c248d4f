import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { openSource } from '../../agent/source/index.ts';
import { tempDir, WorkRepo } from '../../devenv/git-repo.ts';
import { captureLogs, sourceFixture } from './fixture.ts';

test('a plain directory opens as is, without a revision', async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir, 'a.yml'), 'a: 1\n');
    const opened = await openSource(dir, { log: captureLogs().log });
    assert.equal(await opened.reader.readFile('a.yml'), 'a: 1\n');
    assert.deepEqual(await opened.reader.listDir(''), ['a.yml']);
    assert.equal(opened.revision, undefined);
    await assert.rejects(openSource(join(dir, 'nope'), { log: captureLogs().log }), (err: unknown) =>
      isAgentError(err, 'SourceNotFound'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a git work tree opens with its HEAD revision, uncommitted changes included', async () => {
  const dir = await tempDir();
  try {
    const work = await WorkRepo.create(join(dir, 'repo'), '/nonexistent');
    const head = await work.commit('one', { files: { 'appliances/a/appliance.yml': 'v: 1\n' } });
    await work.write({ 'appliances/a/appliance.yml': 'v: dirty\n' });
    const opened = await openSource(join(work.dir, 'appliances'), { log: captureLogs().log });
    assert.equal(opened.revision, head);
    assert.equal(await opened.reader.readFile('a/appliance.yml'), 'v: dirty\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an http URL is fetched into a temporary object store that close() removes', async () => {
  const fx = await sourceFixture();
  try {
    const opened = await openSource(fx.url, { log: fx.logs.log });
    assert.equal(opened.revision, await fx.work.head());
    assert.equal(await opened.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 1\n');
    await opened.close();
    // The store is gone: the reader has nothing left to read from.
    await assert.rejects(opened.reader.readFile('appliances/a/appliance.yml'), (err: unknown) =>
      isAgentError(err, 'SourceCorrupt'),
    );
  } finally {
    await fx.close();
  }
});
