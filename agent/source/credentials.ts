import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { parse, YAMLParseError } from 'yaml';
import { AgentError } from '../core/errors.ts';
import type { Logger } from '../lib/log.ts';

/** HTTP basic credentials for the config repo, as sent to the server. */
export interface GitCredentials {
  username: string;
  password: string;
}

/**
 * Username used with a bare `token`. GitHub, Gitea/Forgejo and GitLab accept a token as the
 * password with any username; GitHub documents this one for app and personal tokens.
 */
export const TOKEN_USERNAME = 'x-access-token';

const MAX_BYTES = 64 * 1024;
const KEYS = new Set(['username', 'password', 'token']);

/**
 * Parses a credentials file: YAML or JSON `{ username?, password? | token? }`. Exactly one of
 * `password` and `token`; `username` defaults to {@link TOKEN_USERNAME} for a token. Errors name
 * the file and the offending key, never a value.
 */
export function parseCredentials(text: string, file: string): GitCredentials {
  let doc: unknown;
  try {
    doc = parse(text, { prettyErrors: false, maxAliasCount: 0 });
  } catch (err) {
    const line = err instanceof YAMLParseError ? err.linePos?.[0].line : undefined;
    throw invalid(file, `is not valid YAML or JSON${line === undefined ? '' : ` (line ${line})`}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid(file, 'must be a mapping');
  const record = doc as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (!KEYS.has(key)) throw invalid(file, `has an unknown key "${key}" (allowed: username, password, token)`);
    if (typeof value !== 'string' || value === '') throw invalid(file, `key "${key}" must be a non-empty string`);
  }
  const { username, password, token } = record as { username?: string; password?: string; token?: string };
  if (password !== undefined && token !== undefined)
    throw invalid(file, 'must have either "password" or "token", not both');
  if (password !== undefined) {
    if (username === undefined) throw invalid(file, '"password" needs a "username"');
    return { username, password };
  }
  if (token !== undefined) return { username: username ?? TOKEN_USERNAME, password: token };
  throw invalid(file, 'must have a "password" or a "token"');
}

/**
 * Reads and parses the credentials file at `path`. The file must be a regular file that neither
 * group nor others can read or write (0600 or 0400): otherwise `CredentialsFileMode` is thrown,
 * since a token that others could read has to be rotated, not used. A file owned by another user
 * is used with a warning.
 */
export async function loadCredentials(path: string, deps: { log: Logger }): Promise<GitCredentials> {
  let handle;
  try {
    // Non-blocking: a FIFO in its place is refused below instead of hanging the open.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    throw new AgentError('CredentialsUnreadable', `cannot read credentials file ${path} (${code})`, {
      terminal: true,
      data: { file: path, errorCode: code },
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw invalid(path, 'is not a regular file');
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new AgentError(
        'CredentialsFileMode',
        `credentials file ${path} has mode ${mode.toString(8).padStart(4, '0')}; it must not be readable by group or others (chmod 600 ${path})`,
        { terminal: true, data: { file: path, mode: mode.toString(8) } },
      );
    }
    if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) {
      deps.log.warn({ file: path, uid: stat.uid }, 'credentials file is owned by another user');
    }
    if (stat.size > MAX_BYTES) throw invalid(path, `is larger than ${MAX_BYTES} bytes`);
    return parseCredentials(await handle.readFile('utf8'), path);
  } finally {
    await handle.close();
  }
}

function invalid(file: string, what: string): AgentError {
  return new AgentError('CredentialsInvalid', `credentials file ${file} ${what}`, { terminal: true, data: { file } });
}
