import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../agent/lib/exec.ts';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'appliance.js');
const example = join(import.meta.dirname, '..', '..', 'example-config-repo');

test('every CLI error is a whole line on stderr, with a non-zero exit', async () => {
  const cases = [
    ['no-such-command'],
    ['validate', '/nonexistent'],
    ['decrypt', '/nonexistent'],
    ['plan', '--repo', example, '--name', 'demo'],
    ['config', 'create', '--repo', '/nonexistent', '--name', 'x', '--domain', 'x.example.test'],
  ];
  for (const args of cases) {
    const res = await run(process.execPath, [cli, ...args], {
      env: { APPLIANCE_AGE_IDENTITY_FILE: '', SOPS_AGE_KEY_FILE: '' },
      okCodes: Array.from({ length: 255 }, (_, i) => i + 1),
    });
    assert.notEqual(res.exitCode, 0, args.join(' '));
    assert.ok(res.stderr.length > 0, `${args.join(' ')}: says why`);
    assert.ok(res.stderr.endsWith('\n'), `${args.join(' ')}: ${JSON.stringify(res.stderr.slice(-80))}`);
  }
});
