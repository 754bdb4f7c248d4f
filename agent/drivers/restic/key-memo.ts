import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

/**
 * What restic accepted last time for a local (or mounted) repository: its config and the key
 * file that opened with the password, byte for byte, and a keyed hash of that password. While
 * all three are unchanged, the same password still opens the repository, and "does it exist and
 * does the password open it" is answered from the filesystem. Asking restic costs the password's
 * key derivation (scrypt, which restic tunes at init to ~0.5 s), which a backup then pays twice.
 *
 * The hash is HMAC-SHA256 under a random salt, in a 0600 file beside restic's cache: it tells
 * nothing that the appliance's age identity on the same disk does not give away in full.
 */
interface KeyMemo {
  format: 1;
  /** sha256 of the repository location (it can hold credentials). */
  repository: string;
  /** sha256 of `config`. */
  config: string;
  /** The key file's name under `keys/`. */
  key: string;
  /** sha256 of that key file. */
  keyFile: string;
  salt: string;
  password: string;
}

/** The directory of a local repository (a path or `local:path`); undefined for remote ones. */
export function localRepositoryPath(repository: string): string | undefined {
  const p = repository.startsWith('local:') ? repository.slice('local:'.length) : repository;
  return path.isAbsolute(p) ? p : undefined;
}

/**
 * True when the memo says this password opens this repository and nothing it names changed;
 * also false while `locks/` holds a lock, so that restic's own check removes stale ones.
 */
export async function memoOpens(file: string, repository: string, password: string): Promise<boolean> {
  const dir = localRepositoryPath(repository);
  if (dir === undefined) return false;
  try {
    const memo = JSON.parse(await readFile(file, 'utf8')) as Partial<KeyMemo>;
    if (memo.format !== 1 || typeof memo.key !== 'string' || typeof memo.salt !== 'string') return false;
    if (!/^[0-9a-f]{64}$/.test(memo.key)) return false;
    const [config, keyFile, locks] = await Promise.all([
      readFile(path.join(dir, 'config')),
      readFile(path.join(dir, 'keys', memo.key)),
      readdir(path.join(dir, 'locks')),
    ]);
    return (
      locks.length === 0 &&
      same(memo.repository, sha256(repository)) &&
      same(memo.config, sha256(config)) &&
      same(memo.keyFile, sha256(keyFile)) &&
      same(memo.password, hmac(memo.salt, password))
    );
  } catch {
    return false;
  }
}

/**
 * Records that the password opened the repository. With one key file that is the one; with
 * several, `current` says which (the id or a prefix of its file name). Nothing is recorded for a
 * remote repository, nor when the key file is not known.
 */
export async function rememberKey(
  file: string,
  repository: string,
  password: string,
  current: () => Promise<string | undefined>,
): Promise<void> {
  const dir = localRepositoryPath(repository);
  if (dir === undefined) return;
  const keys = (await readdir(path.join(dir, 'keys'))).filter((k) => /^[0-9a-f]{64}$/.test(k));
  const id = keys.length > 1 ? await current() : undefined;
  const name = keys.length === 1 ? keys[0] : id === undefined ? undefined : keys.find((k) => k.startsWith(id));
  if (name === undefined) return;
  const [config, keyFile] = await Promise.all([
    readFile(path.join(dir, 'config')),
    readFile(path.join(dir, 'keys', name)),
  ]);
  const salt = randomBytes(32).toString('hex');
  const memo: KeyMemo = {
    format: 1,
    repository: sha256(repository),
    config: sha256(config),
    key: name,
    keyFile: sha256(keyFile),
    salt,
    password: hmac(salt, password),
  };
  await writeFileAtomic(file, `${JSON.stringify(memo)}\n`, { mode: 0o600 });
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(salt: string, password: string): string {
  return createHmac('sha256', salt).update(password).digest('hex');
}

function same(a: string | undefined, b: string): boolean {
  return a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
