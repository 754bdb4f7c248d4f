import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { withReference } from '../../devenv/cli-reference.ts';

test('README.md CLI reference matches the commands (npm run docs rewrites it)', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(readme, withReference(readme), 'README.md is stale: run `npm run docs`');
});
