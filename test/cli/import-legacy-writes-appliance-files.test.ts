import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImportLegacy } from '../../agent/cli/import-legacy.ts';
import { runValidate } from '../../agent/cli/validate.ts';
import { generateIdentity } from '../../agent/sops/index.ts';
import { fixturesDir, repoRoot } from '../config/helpers.ts';
import { assertGolden, captureIo } from './golden.ts';

const OLD = join(fixturesDir, 'legacy', 'ecs-env.yml');

/** A fresh config repository holding the example app definitions. */
async function tempRepo(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'import-legacy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(repoRoot, 'example-config-repo', 'apps'), join(dir, 'apps'), { recursive: true });
  return dir;
}

test('with a recipient, env.yml is written encrypted and the result validates with the key', async (t) => {
  const repo = await tempRepo(t);
  const { identity, recipient } = await generateIdentity();
  const io = captureIo();
  await runImportLegacy(OLD, { name: 'ecs-old', repo, recipient: [recipient] }, io);
  assert.equal(io.code, 0, io.err);
  assert.equal(io.err, '');
  await assertGolden('import-legacy-report.txt', io.out);
  const env = await readFile(join(repo, 'appliances/ecs-old/env.yml'), 'utf8');
  assert.match(env, /^sops:$/m);
  assert.doesNotMatch(env, /fakeSecretKey/);
  const keyFile = join(repo, 'key.txt');
  await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });
  const check = captureIo();
  await runValidate(repo, { identity: keyFile }, check);
  assert.equal(check.code, 0, check.out);
  assert.match(check.out, /^ok: 1 appliance \(ecs-old\)/m);
});

test('recipients come from the matching .sops.yaml rule when none are given', async (t) => {
  const repo = await tempRepo(t);
  const { recipient } = await generateIdentity();
  await writeFile(
    join(repo, '.sops.yaml'),
    `creation_rules:\n  - path_regex: ^appliances/other/\n    age: age1nomatch\n  - path_regex: ^appliances/[^/]+/env\\.yml$\n    age: ${recipient}\n`,
  );
  const io = captureIo();
  await runImportLegacy(OLD, { name: 'ecs-old', repo, json: true }, io);
  assert.equal(io.code, 0, io.err);
  const out = JSON.parse(io.out) as { written: string[]; encrypted: boolean };
  assert.deepEqual(out.written, ['appliances/ecs-old/appliance.yml', 'appliances/ecs-old/env.yml']);
  assert.equal(out.encrypted, true);
  assert.ok((await readFile(join(repo, 'appliances/ecs-old/env.yml'), 'utf8')).includes(recipient));
});

test('without any recipient the plaintext goes to env.plain.yml with mode 0600 and a warning', async (t) => {
  const repo = await tempRepo(t);
  const io = captureIo();
  await runImportLegacy(OLD, { name: 'ecs-old', repo }, io);
  assert.equal(io.code, 0, io.err);
  const plain = join(repo, 'appliances/ecs-old/env.plain.yml');
  assert.equal((await stat(plain)).mode & 0o777, 0o600);
  assert.match(await readFile(plain, 'utf8'), /SECRET_KEY: fakeSecretKey/);
  assert.match(io.err, /PLAINTEXT secrets/);
  const again = captureIo();
  await runImportLegacy(OLD, { name: 'ecs-old', repo }, again);
  assert.equal(again.code, 2);
  assert.match(again.err, /exists already \(use --force to overwrite\)/);
  const forced = captureIo();
  await runImportLegacy(OLD, { name: 'ecs-old', repo, force: true }, forced);
  assert.equal(forced.code, 0);
});
