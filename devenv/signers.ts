import { mkdtemp, readFile, rm, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { run } from '../agent/lib/exec.ts';

/** A throwaway signing identity for test commits. */
export interface Signer {
  kind: 'openpgp' | 'ssh';
  /** Armored OpenPGP public key, or an SSH public key line `ssh-ed25519 AAAA… comment`. */
  publicKey: string;
  /** `-c` options that make `git commit -S` sign with this key. */
  gitConfig: string[];
  /** Extra environment for git (GNUPGHOME for OpenPGP). */
  env: Record<string, string>;
  /** Stops agents and removes the key material. */
  dispose(): Promise<void>;
}

/**
 * Generates an unprotected ed25519 OpenPGP key in a temporary GNUPGHOME (`%no-protection`, so no
 * pinentry) and returns a signer that git drives through `gpg`.
 */
export async function createGpgSigner(name = 'Test Signer'): Promise<Signer> {
  const home = await mkdtemp(join(tmpdir(), 'gpg-'));
  await chmod(home, 0o700);
  const env = { GNUPGHOME: home };
  const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@appliance.invalid`;
  const params = [
    '%no-protection',
    'Key-Type: EDDSA',
    'Key-Curve: ed25519',
    'Key-Usage: sign',
    `Name-Real: ${name}`,
    `Name-Email: ${email}`,
    'Expire-Date: 0',
    '%commit',
    '',
  ].join('\n');
  await run('gpg', ['--batch', '--gen-key'], { env, input: params });
  const listing = await run('gpg', ['--batch', '--with-colons', '--list-secret-keys'], { env });
  const fpr = /^fpr:+([0-9A-F]{40,64}):/m.exec(listing.stdout)?.[1];
  if (fpr === undefined) throw new Error('gpg: no fingerprint after key generation');
  const exported = await run('gpg', ['--batch', '--armor', '--export', fpr], { env });
  return {
    kind: 'openpgp',
    publicKey: exported.stdout,
    gitConfig: ['-c', 'gpg.format=openpgp', '-c', 'gpg.program=gpg', '-c', `user.signingkey=${fpr}`],
    env,
    dispose: async () => {
      await run('gpgconf', ['--kill', 'all'], { env, okCodes: [0, 1, 2] });
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** SSH key types `ssh-keygen -t` understands and the agent verifies. */
export type SshKeyType = 'ed25519' | 'ecdsa' | 'rsa';

/** Generates an unprotected SSH key and returns a signer for git's `gpg.format=ssh`. */
export async function createSshSigner(
  type: SshKeyType = 'ed25519',
  comment = 'signer@appliance.invalid',
): Promise<Signer> {
  const dir = await mkdtemp(join(tmpdir(), 'ssh-'));
  const key = join(dir, 'id');
  const sizeArgs = type === 'ecdsa' ? ['-b', '256'] : type === 'rsa' ? ['-b', '3072'] : [];
  await run('ssh-keygen', ['-q', '-t', type, ...sizeArgs, '-N', '', '-C', comment, '-f', key]);
  const publicKey = (await readFile(`${key}.pub`, 'utf8')).trim();
  return {
    kind: 'ssh',
    publicKey,
    gitConfig: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`],
    env: {},
    dispose: async () => {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
