import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from '../../devenv/git-repo.ts';
import { createShop, exampleWorkTree, runConfig } from '../provision/appliance-repo.ts';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

test('config create refuses bad requests before writing anything', async (t) => {
  const { dir, repo, out } = await exampleWorkTree(t);
  const base = ['create', '--repo', repo, '--domain', 'x.example.test', '--out', out];
  const cases: { args: string[]; error: RegExp; prepare?: () => Promise<void> }[] = [
    { args: [...base, '--name', 'demo', '--app', 'demo'], error: /appliances\/demo exists already \(use --force/ },
    { args: [...base, '--name', 'new-one'], error: /pass --app <path> \(the repository has several apps: apps\/demo\/app.yml, apps\/ecs\/app.yml\)$/m },
    { args: [...base, '--name', 'new-one', '--app', 'apps/nope/app.yml'], error: /apps\/nope\/app.yml does not exist/ },
    { args: [...base, '--name', 'Bad_Name', '--app', 'demo'], error: /not a valid appliance name/ },
    { args: [...base, '--name', 'new-one', '--app', 'demo', '-r', 'age1nope'], error: /'age1nope' is not an age recipient/ },
    { args: [...base, '--name', 'new-one', '--app', 'demo', '--repo-url', 'git@example.test:fleet.git'], error: /bootstrap config would be invalid/ },
    { args: [...base, '--name', 'new-one', '--app', 'demo', '--secret', 'X:rsa2'], error: /unknown secret kind 'rsa2'/ },
    { args: [...base, '--name', 'new-one', '--app', 'demo', '-r', 'AGE-SECRET-KEY-1QQQQ'], error: /^appliance config create: an age identity \(a secret key!\) is not an age recipient/ },
  ]; // prettier-ignore
  for (const c of cases) {
    const res = await runConfig(c.args);
    assert.equal(res.code, 1, `${c.args.join(' ')}\n${res.out}`);
    assert.match(res.err, c.error);
    assert.doesNotMatch(res.err, /AGE-SECRET-KEY/);
    assert.equal(res.out, '');
  }

  await git(repo, ['remote', 'set-url', 'origin', '/srv/git/fleet.git']);
  const local = await runConfig([...base, '--name', 'new-one', '--app', 'demo']);
  assert.match(local.err, /pass --repo-url <url> \(remote.origin.url is not an http\(s\) URL/);

  await writeFile(join(repo, '.sops.yaml'), '# edited\n', { flag: 'a' });
  const dirty = await runConfig([...base, '--name', 'new-one', '--app', 'demo', '--repo-url', 'https://h.test/f.git']);
  assert.match(dirty.err, /\.sops\.yaml has uncommitted changes/);
  await git(repo, ['checkout', '--', '.sops.yaml']);

  await mkdir(out);
  await writeFile(join(out, 'age.key'), 'keep me\n');
  const taken = await runConfig([...base, '--name', 'new-one', '--app', 'demo', '--repo-url', 'https://h.test/f.git']);
  assert.match(taken.err, /already has age.key \(use --force to overwrite\)/);
  assert.equal(await readFile(join(out, 'age.key'), 'utf8'), 'keep me\n');

  assert.equal(await git(repo, ['status', '--porcelain']), '');
  assert.deepEqual(await readdir(out), ['age.key']);
  assert.equal(await exists(join(dir, 'appliance-new-one')), false);
});

test('a failing commit takes the repository files back', async (t) => {
  const { dir, repo, out } = await exampleWorkTree(t);
  const before = await readFile(join(repo, '.sops.yaml'), 'utf8');
  await git(repo, ['config', 'gpg.format', 'ssh']);
  await git(repo, ['config', 'user.signingkey', join(dir, 'no-such-key')]);
  const res = await createShop(repo, out, ['--sign']);
  assert.equal(res.code, 1);
  assert.match(res.err, /git commit failed; the repository files were taken back/);
  assert.equal(await git(repo, ['status', '--porcelain']), '');
  assert.equal(await readFile(join(repo, '.sops.yaml'), 'utf8'), before);
  assert.equal(await exists(join(repo, 'appliances', 'shop')), false);
  assert.equal(await git(repo, ['log', '-1', '--format=%s']), 'Example fleet');
});
