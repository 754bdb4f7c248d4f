import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentError, isAgentError } from '../../core/errors.ts';
import type { SecretRegistry } from '../../lib/secrets.ts';
import type { ResticOptions, ResticRepository } from './repository.ts';
import { sftpCommand, sftpTarget } from './sftp.ts';

/**
 * Runs `fn` with the environment of one restic call: repository, password and extra variables
 * (never argv), inherited RESTIC_* settings cleared, the cache and zone set. For an sftp
 * repository with known hosts, a 0600 known_hosts file lives only as long as the call and
 * `globalArgs` carries the ssh command that uses it.
 */
export async function withResticEnv<T>(
  repo: ResticRepository,
  options: ResticOptions,
  fn: (env: Record<string, string>, globalArgs: string[]) => Promise<T>,
): Promise<T> {
  const env: Record<string, string> = {
    ...repo.env,
    RESTIC_REPOSITORY: repo.repository,
    RESTIC_PASSWORD: repo.password,
    // Inherited settings must not pick another password or repository.
    RESTIC_PASSWORD_FILE: '',
    RESTIC_PASSWORD_COMMAND: '',
    RESTIC_REPOSITORY_FILE: '',
    RESTIC_KEY_HINT: '',
    ...(options.timezone === undefined ? {} : { TZ: options.timezone }),
  };
  if (options.cacheDir !== undefined) {
    await mkdir(options.cacheDir, { recursive: true, mode: 0o700 });
    env['RESTIC_CACHE_DIR'] = options.cacheDir;
  }
  if (repo.repository.startsWith('sftp:') && sftpTarget(repo.repository) === undefined) {
    // restic hands user and host to ssh, which runs as root: only plain ones. The value is secret.
    throw new AgentError(
      'BackupRepositoryInvalid',
      'the sftp backup repository must be sftp:user@host:/path or sftp://user@host:port//path with a plain user and host (IPv6 in brackets)',
      { terminal: true },
    );
  }
  const knownHosts = repo.knownHosts ?? [];
  if (knownHosts.length === 0 || !repo.repository.startsWith('sftp:')) return fn(env, []);
  const dir = await mkdtemp(path.join(tmpdir(), 'appliance-restic-'));
  try {
    const file = path.join(dir, 'known_hosts');
    await writeFile(file, `${knownHosts.join('\n')}\n`, { mode: 0o600 });
    const command = sftpCommand(repo.repository, file);
    // restic reads extended options from argv only; the command holds no secret.
    return await fn(env, command === undefined ? [] : ['-o', `sftp.command=${command}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Turns a failed restic call into an AgentError with every secret removed and a code to match
 * on: BackupRepositoryLocked, BackupPasswordWrong (terminal), BackupRepositoryUnreachable,
 * BackupRepositoryMissing, else BackupCommandFailed. AgentErrors with other codes pass through.
 */
export function classifyResticError(
  err: unknown,
  what: string,
  secrets: SecretRegistry,
  data: Record<string, unknown> = {},
): AgentError {
  if (isAgentError(err) && err.code !== 'ExecFailed') return err;
  const message = secrets.scrub(err instanceof Error ? err.message : String(err));
  const base = isAgentError(err) ? err.data : {};
  const code = /repository is already locked/i.test(message)
    ? 'BackupRepositoryLocked'
    : /wrong password or no key found/i.test(message)
      ? 'BackupPasswordWrong'
      : /connection refused|no such host|i\/o timeout|dial tcp|network is unreachable|connection reset/i.test(message)
        ? 'BackupRepositoryUnreachable'
        : /unable to open config file|Is there a repository/i.test(message)
          ? 'BackupRepositoryMissing'
          : 'BackupCommandFailed';
  const detail = message.replace(/^\S+ \S* ?(failed|exited with -?\d+): /, '');
  return new AgentError(code, `restic could not ${what}: ${detail}`, {
    terminal: code === 'BackupPasswordWrong',
    data: { ...secrets.scrubDeep(base), ...data },
  });
}
