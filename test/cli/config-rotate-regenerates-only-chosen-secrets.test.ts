import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonValue } from '../../agent/core/json.ts';
import { dkimTxtValue } from '../../agent/provision/generate-secrets.ts';
import { git } from '../../devenv/git-repo.ts';
import {
  decryptEnv,
  exampleWorkTree,
  OPERATOR_KEY,
  OPERATOR_RECIPIENT,
  createShop,
  runConfig,
} from '../provision/appliance-repo.ts';

type Tree = Record<string, JsonValue>;
const secretsOf = (env: Tree): Record<string, string> => (env['app'] as { secrets: Record<string, string> }).secrets;
const dkimOf = (env: Tree): string => (env['mail'] as { dkim: { private_key: string } }).dkim.private_key;
const envLines = async (repo: string): Promise<string[]> =>
  (await readFile(join(repo, 'appliances/shop/env.yml'), 'utf8')).split('\n');

test('config rotate --regenerate changes exactly the chosen secret and keeps everything else', async (t) => {
  const { repo, out } = await exampleWorkTree(t);
  const created = await createShop(repo, out);
  assert.equal(created.code, 0, created.err);
  const before = await decryptEnv(repo, 'shop', OPERATOR_KEY);
  const linesBefore = await envLines(repo);
  const sopsBefore = await readFile(join(repo, '.sops.yaml'), 'utf8');
  const rotate = ['rotate', '--repo', repo, '--name', 'shop', '--identity', OPERATOR_KEY];

  const res = await runConfig([...rotate, '--regenerate', 'app.secrets.DATABASE_PASSWORD']);
  assert.equal(res.code, 0, res.err);
  const after = await decryptEnv(repo, 'shop', join(out, 'age.key'));
  const fresh = secretsOf(after)['DATABASE_PASSWORD'] ?? '';
  assert.match(fresh, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(fresh, secretsOf(before)['DATABASE_PASSWORD']);
  assert.deepEqual(after, { ...before, app: { ...(before['app'] as Tree), secrets: { DATABASE_PASSWORD: fresh } } });
  // Same data key and recipients: every other value keeps its ciphertext; .sops.yaml is untouched.
  const linesAfter = await envLines(repo);
  const changed = linesAfter
    .filter((l) => !linesBefore.includes(l))
    .map((l) => l.trim().split(':')[0])
    .filter((k) => k !== 'lastmodified');
  assert.deepEqual(changed, ['DATABASE_PASSWORD', 'mac']);
  assert.equal(await readFile(join(repo, '.sops.yaml'), 'utf8'), sopsBefore);
  assert.equal(await git(repo, ['log', '-1', '--format=%s']), 'Rotate shop: app.secrets.DATABASE_PASSWORD');
  assert.equal(await git(repo, ['show', '--name-only', '--format=', 'HEAD']), 'appliances/shop/env.yml');
  assert.ok(!res.out.includes(fresh) && !res.err.includes(fresh), 'the new value is not printed');
  assert.match(res.err, /app\.secrets\.DATABASE_PASSWORD is the database password: PostgreSQL still has the old one/);

  const dkim = await runConfig([...rotate, '--regenerate', 'dkim']);
  assert.equal(dkim.code, 0, dkim.err);
  const third = await decryptEnv(repo, 'shop', OPERATOR_KEY);
  assert.notEqual(dkimOf(third), dkimOf(after));
  assert.deepEqual(third, { ...after, mail: { dkim: { selector: 'default', private_key: dkimOf(third) } } });
  assert.ok(dkim.out.includes(dkimTxtValue(dkimOf(third)).slice(0, 200)), 'the new DKIM record is printed');
  assert.doesNotMatch(dkim.out, /PRIVATE KEY/);
});

test('config rotate refuses what it cannot regenerate and changes nothing', async (t) => {
  const { repo, out } = await exampleWorkTree(t);
  const created = await createShop(repo, out);
  assert.equal(created.code, 0, created.err);
  const head = await git(repo, ['rev-parse', 'HEAD']);
  const rotate = ['rotate', '--repo', repo, '--name', 'shop', '--identity', OPERATOR_KEY];
  const cases: [string[], RegExp][] = [
    [['--regenerate', 'domain'], /--regenerate domain: is not a generated secret/],
    [['--regenerate', 'backup.repository'], /backup\.repository: is not a generated secret/],
    [['--regenerate', 'app.secrets.NOPE'], /is not set in env.yml and the app does not reference it/],
    [['--regenerate', 'first_user.transport_password'], /first_user\.transport_password: is not set in env.yml/],
    [[], /nothing to do/],
    [['-r', OPERATOR_RECIPIENT], /nothing to do/],
  ];
  for (const [args, error] of cases) {
    const res = await runConfig([...rotate, ...args]);
    assert.equal(res.code, 1, args.join(' '));
    assert.match(res.err, error);
  }
  const base = ['rotate', '--repo', repo, '--name', 'shop', '--regenerate', 'backup.password'];
  const wrongKey = await runConfig([...base, '--identity', join(out, 'nope.key')]);
  assert.match(wrongKey.err, /identity file not found/);
  const otherKey = join(OPERATOR_KEY, '..', 'demo.agekey');
  const locked = await runConfig([...base, '--identity', otherKey]);
  assert.match(locked.err, /none of the given age identities can decrypt/);
  assert.equal(await git(repo, ['rev-parse', 'HEAD']), head);
  assert.equal(await git(repo, ['status', '--porcelain']), '');
});
