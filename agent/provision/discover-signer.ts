import { homedir } from 'node:os';
import { isAgentError } from '../core/errors.ts';
import { run } from '../lib/exec.ts';
import { readRegularFile } from '../lib/fs.ts';
import type { GitEnv } from './config-repo-git.ts';

/** A public key found in the operator's git signing setup, as a `--trusted-signer-file` would give it. */
export interface DiscoveredSigner {
  /** Where it came from (names the signer when the key has no comment). */
  path: string;
  text: string;
}

/**
 * The public half of the key git signs commits with in `repo` (`user.signingkey` with
 * `gpg.format` ssh or openpgp): an SSH key line from `key::…`, the `.pub` beside the key file,
 * or `ssh-keygen -y`; an OpenPGP key from `gpg --export`. Undefined when git has no signing key
 * or it cannot be read.
 */
export async function discoverSigningKey(repo: string, env: GitEnv): Promise<DiscoveredSigner | undefined> {
  const key = await gitConfig(repo, 'user.signingkey', env);
  if (key === undefined) return undefined;
  const format = (await gitConfig(repo, 'gpg.format', env)) ?? 'openpgp';
  if (format === 'ssh') return sshKey(key, env);
  if (format !== 'openpgp') return undefined;
  const program = (await gitConfig(repo, 'gpg.openpgp.program', env)) ?? (await gitConfig(repo, 'gpg.program', env));
  const exported = await run(program ?? 'gpg', ['--batch', '--armor', '--export', key], { env: clean(env) }).catch(
    () => undefined,
  );
  const text = exported?.stdout ?? '';
  return text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')
    ? { path: `git user.signingkey ${key}`, text }
    : undefined;
}

async function sshKey(key: string, env: GitEnv): Promise<DiscoveredSigner | undefined> {
  if (key.startsWith('key::')) return { path: 'git user.signingkey', text: `${key.slice(5).trim()}\n` };
  if (/^(ssh-|ecdsa-|sk-)/.test(key)) return { path: 'git user.signingkey', text: `${key.trim()}\n` };
  const file = key.replace(/^~(?=\/)/, env['HOME'] ?? homedir());
  for (const candidate of file.endsWith('.pub') ? [file] : [`${file}.pub`]) {
    const text = await readRegularFile(candidate).catch(() => undefined);
    if (text !== undefined && !text.includes('PRIVATE KEY')) return { path: candidate, text };
  }
  // The private key alone: ssh-keygen derives the public line (fails, never prompts, with a passphrase).
  try {
    const derived = await run('ssh-keygen', ['-y', '-P', '', '-f', file], { env: clean(env) });
    return { path: file, text: derived.stdout };
  } catch (err) {
    if (isAgentError(err, 'ExecFailed')) return undefined;
    throw err;
  }
}

async function gitConfig(repo: string, name: string, env: GitEnv): Promise<string | undefined> {
  const r = await run('git', ['config', '--get', name], { cwd: repo, env: clean(env), okCodes: [0, 1] }).catch(
    () => undefined,
  );
  const value = r?.stdout.trim() ?? '';
  return value === '' ? undefined : value;
}

function clean(env: GitEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
