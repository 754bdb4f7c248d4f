import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { errorReference, withReference } from '../../devenv/cli-reference.ts';

test('README.md CLI reference matches the commands (npm run docs rewrites it)', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(readme, withReference(readme), 'README.md is stale: run `npm run docs`');
});

test('docs/errors.md lists every error code of the registry (npm run docs rewrites it)', async () => {
  const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(doc, errorReference(), 'docs/errors.md is stale: run `npm run docs`');
  assert.match(doc, /\| `DockerUnavailable` \| environment \| 2 \|/);
});
