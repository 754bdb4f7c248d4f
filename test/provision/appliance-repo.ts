import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { Command } from 'commander';
import { parse } from 'yaml';
import { register } from '../../agent/cli/config.ts';
import type { JsonValue } from '../../agent/core/json.ts';
import { decryptSops } from '../../agent/sops/index.ts';
import { captureIo } from '../cli/golden.ts';
import { git, gitEnv } from '../../devenv/git-repo.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The example fleet repository and the test-only operator identity that decrypts it. */
export const EXAMPLE_REPO = join(root, 'example-config-repo');
export const OPERATOR_KEY = join(root, 'test', 'fixtures', 'keys', 'operator.agekey');
export const OPERATOR_RECIPIENT = 'age17eqee080lxtcg6p357056wlmmdxdukvzjr5slq0vs3gr59jzzyns2rl6h8';
/** The ecs-prod fixture key, used as a second operator. */
export const OTHER_KEY = join(root, 'test', 'fixtures', 'keys', 'ecs-prod.agekey');
export const OTHER_RECIPIENT = 'age1crpp68f3jua6tgdkzcpthmdrzzmzl2cmvcau8uvtyfamfqjk43yqqvsulw';
export const ORIGIN = 'https://git.example.test/ops/fleet.git';
/** An operator's SSH public key (its private half was thrown away): the trusted signer `config create` gets by default here. */
export const SIGNER_FILE = join(root, 'test', 'fixtures', 'keys', 'operator-signer.pub');

/** A fresh git work tree holding a copy of example-config-repo (one commit), removed after the test. */
export async function exampleWorkTree(t: TestContext): Promise<{ dir: string; repo: string; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'config-create-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const repo = join(dir, 'fleet');
  await cp(EXAMPLE_REPO, repo, { recursive: true, filter: (src) => !/env\.plain\.yml$/.test(src) });
  await git(repo, ['init', '--quiet', '--initial-branch=main']);
  await git(repo, ['remote', 'add', 'origin', ORIGIN]);
  await git(repo, ['add', '--all']);
  await git(repo, ['commit', '--quiet', '--no-gpg-sign', '-m', 'Example fleet']);
  return { dir, repo, out: join(dir, 'out') };
}

/**
 * Runs `appliance config …` in-process with git's test environment; returns what it printed.
 * `create` gets `--trusted-signer-file SIGNER_FILE` unless it names signers or `discoverSigner` is set.
 */
export async function runConfig(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { discoverSigner?: boolean } = {},
): Promise<{ out: string; err: string; code: number | undefined }> {
  const io = captureIo({ ...process.env, ...gitEnv(), ...env });
  const signer =
    args[0] === 'create' && !args.includes('--trusted-signer-file') && options.discoverSigner !== true
      ? ['--trusted-signer-file', SIGNER_FILE]
      : [];
  const program = new Command('appliance').version('0.1.0').exitOverride();
  register(program, io);
  await program.parseAsync(['config', ...args, ...signer], { from: 'user' });
  return { out: io.out, err: io.err, code: io.code };
}

/** The decrypted env.yml of an appliance (without the sops metadata). */
export async function decryptEnv(repo: string, name: string, identityFile: string): Promise<Record<string, JsonValue>> {
  const file = `appliances/${name}/env.yml`;
  const text = await readFile(join(repo, file), 'utf8');
  const identities = (await readFile(identityFile, 'utf8')).split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  const { value } = await decryptSops(text, { file, identities });
  const { sops: _sops, ...tree } = value;
  return tree;
}

/**
 * Every secret a `config create` run produced: the identity, the webhook secret and every
 * secret value of env.yml (each line of multi-line keys too, so a partial leak is caught).
 */
export async function generatedSecrets(out: string, env: Record<string, JsonValue>): Promise<string[]> {
  const identity = (await readFile(join(out, 'age.key'), 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET'));
  const bootstrap = parse(await readFile(join(out, 'bootstrap.yml'), 'utf8')) as { webhook: { secret: string } };
  const values: string[] = [bootstrap.webhook.secret, ...(identity === undefined ? [] : [identity])];
  const at = (...path: string[]): JsonValue | undefined =>
    path.reduce<JsonValue | undefined>(
      (v, k) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v[k] : undefined),
      env,
    );
  for (const v of [
    at('backup', 'password'),
    at('mail', 'dkim', 'private_key'),
    at('first_user', 'transport_password'),
    ...Object.values((at('app', 'secrets') ?? {}) as Record<string, JsonValue>),
  ])
    if (typeof v === 'string') values.push(v, ...v.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')));
  return values;
}

/** `config create` of appliance `shop` (demo app, the operator as recipient) into `out`. */
export async function createShop(
  repo: string,
  out: string,
  extra: readonly string[] = [],
): Promise<{ out: string; err: string; code: number | undefined }> {
  return runConfig([
    'create',
    ...['--repo', repo, '--name', 'shop', '--domain', 'shop.example.test', '--app', 'demo'],
    ...['--recipient', OPERATOR_RECIPIENT, '--out', out, ...extra],
  ]);
}
