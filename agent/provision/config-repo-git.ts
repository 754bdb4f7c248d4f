import { AgentError, isAgentError } from '../core/errors.ts';
import { run } from '../lib/exec.ts';

/** Environment for git (the caller's, so user.name, signing keys and GIT_* settings apply). */
export type GitEnv = Readonly<Record<string, string | undefined>>;

/** The result of committing provisioning files. */
export interface CommitResult {
  commit: string;
  /** The commit carries a signature (`-S`, or commit.gpgsign in git config). */
  signed: boolean;
}

/** Refuses a directory that is not inside a git work tree. */
export async function assertWorkTree(dir: string, env: GitEnv): Promise<void> {
  try {
    const r = await git(dir, ['rev-parse', '--is-inside-work-tree'], env);
    if (r.trim() === 'true') return;
  } catch (err) {
    if (!isAgentError(err, 'ExecFailed')) throw err;
  }
  throw new AgentError('NotAGitWorkTree', `${dir} is not a git work tree (clone the config repository first)`, {
    terminal: true,
    data: { dir },
  });
}

/** `remote.origin.url` of the repository, or undefined. */
export async function originUrl(dir: string, env: GitEnv): Promise<string | undefined> {
  const r = await run('git', ['config', '--get', 'remote.origin.url'], { cwd: dir, env: clean(env), okCodes: [0, 1] });
  const url = r.stdout.trim();
  return url === '' ? undefined : url;
}

/** Paths among `paths` that have uncommitted changes (staged or not), as git prints them. */
export async function uncommittedPaths(dir: string, paths: readonly string[], env: GitEnv): Promise<string[]> {
  const out = await git(dir, ['status', '--porcelain', '--untracked-files=all', '--', ...paths], env);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.slice(3));
}

/**
 * Stages `paths` and commits only them (other staged changes stay staged, uncommitted), signed
 * with `-S` when `sign` is set; git's own config (commit.gpgsign, gpg.format, user.signingkey)
 * applies otherwise. The message never holds a secret: it goes into argv.
 */
export async function commitPaths(
  dir: string,
  paths: readonly string[],
  message: string,
  options: { sign: boolean; env: GitEnv },
): Promise<CommitResult> {
  await git(dir, ['add', '--all', '--', ...paths], options.env);
  try {
    await git(
      dir,
      ['commit', '--quiet', ...(options.sign ? ['-S'] : []), '-m', message, '--only', '--', ...paths],
      options.env,
    );
  } catch (err) {
    // Unstage again, so that a failed commit leaves the index as it was (callers refuse to
    // start when these paths have changes, so HEAD is what was staged before).
    await git(dir, ['reset', '--quiet', '--', ...paths], options.env).catch(() => undefined);
    throw err;
  }
  const commit = (await git(dir, ['rev-parse', 'HEAD'], options.env)).trim();
  const raw = await git(dir, ['cat-file', 'commit', commit], options.env);
  return { commit, signed: /^gpgsig(-sha256)? /m.test(raw.split('\n\n', 1)[0] ?? '') };
}

async function git(dir: string, args: readonly string[], env: GitEnv): Promise<string> {
  return (await run('git', args, { cwd: dir, env: clean(env), timeoutMs: 120_000 })).stdout;
}

function clean(env: GitEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
