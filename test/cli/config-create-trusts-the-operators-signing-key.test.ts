import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { TrustedSigner } from '../../agent/core/config-types.gen.ts';
import { pathExists } from '../../agent/lib/fs.ts';
import { createGpgSigner, createSshSigner, type Signer } from '../../devenv/signers.ts';
import { git } from '../../devenv/git-repo.ts';
import { exampleWorkTree, OPERATOR_RECIPIENT, runConfig } from '../provision/appliance-repo.ts';

const create = (repo: string, out: string): string[] =>
  ['create', '--repo', repo, '--name', 'shop', '--domain', 'shop.example.test', '--app', 'demo'].concat([
    '-r',
    OPERATOR_RECIPIENT,
    '--out',
    out,
    '--no-commit',
  ]);

/** Configures the repository's git to sign with `signer`, as an operator would. */
async function signWith(t: TestContext, repo: string, signer: Signer): Promise<void> {
  t.after(() => signer.dispose());
  for (let i = 1; i < signer.gitConfig.length; i += 2) {
    const [key, ...value] = (signer.gitConfig[i] ?? '').split('=');
    await git(repo, ['config', key ?? '', value.join('=')]);
  }
}

async function signers(out: string): Promise<TrustedSigner[]> {
  const doc = parse(await readFile(join(out, 'bootstrap.yml'), 'utf8')) as { trust: { signers: TrustedSigner[] } };
  return doc.trust.signers;
}

test('without --trusted-signer-file, the SSH key git signs with becomes the trusted signer', async (t) => {
  const { repo, out } = await exampleWorkTree(t);
  const signer = await createSshSigner('ed25519', 'ops@fleet.test');
  await signWith(t, repo, signer);
  const res = await runConfig(create(repo, out), {}, { discoverSigner: true });
  assert.equal(res.code, 0, res.err);
  assert.deepEqual(await signers(out), [{ name: 'ops@fleet.test', ssh: signer.publicKey }]);
  assert.match(res.out, /^Trusted signers: ops@fleet\.test$/m);
});

test('without --trusted-signer-file, the OpenPGP key git signs with becomes the trusted signer', async (t) => {
  const { repo, out } = await exampleWorkTree(t);
  const signer = await createGpgSigner('Fleet Operator');
  await signWith(t, repo, signer);
  const res = await runConfig(create(repo, out), signer.env, { discoverSigner: true });
  assert.equal(res.code, 0, res.err);
  const [only, ...rest] = await signers(out);
  assert.equal(rest.length, 0);
  assert.match(only?.name ?? '', /^Fleet Operator/);
  assert.match(only?.openpgp ?? '', /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
});

test('with no signer given or configured, config create stops naming --trusted-signer-file and writes nothing', async (t) => {
  const { repo, out } = await exampleWorkTree(t);
  const res = await runConfig(create(repo, out), {}, { discoverSigner: true });
  assert.equal(res.code, 1);
  assert.equal(res.err.trimEnd().split('\n').length, 1, res.err);
  assert.match(res.err, /^appliance config create: pass --trusted-signer-file <file> \(git has no signing key/);
  assert.equal(await pathExists(out), false);
  assert.equal(await pathExists(join(repo, 'appliances', 'shop')), false);
});
