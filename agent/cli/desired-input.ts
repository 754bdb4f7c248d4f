import { AgentError } from '../core/errors.ts';
import type { DesiredState } from '../core/desired.ts';
import { formatIssue } from '../core/result.ts';
import { decryptEnvFromIdentityFile } from '../config/decrypt-env.ts';
import { loadDesired, type DecryptEnv, type RepoReader } from '../config/load.ts';
import { resolveIdentityFile } from '../sops/index.ts';
import { createLogger } from '../lib/log.ts';
import { loadCredentials, openSource } from '../source/index.ts';
import { assertDir } from './validate.ts';
import { type CliIo } from './io.ts';

/** Opens `--repo` for reading; `close` removes what opening created (a temporary clone). */
export type RepoOpener = (
  repo: string,
  options: { branch?: string; credentialsFile?: string },
) => Promise<{ reader: RepoReader; revision: string; close: () => Promise<void> }>;

export interface DesiredInputDeps {
  openRepo?: RepoOpener;
  /** Replaces identity-based decryption (tests). */
  decrypt?: DecryptEnv;
}

/** Opens a directory as it is, or fetches an http(s) URL into a temporary object store. */
export const openRepoSpec: RepoOpener = async (repo, options) => {
  if (!/^https?:\/\//i.test(repo)) await assertDir(repo);
  const log = createLogger({ level: 'warn' });
  const auth =
    options.credentialsFile === undefined ? undefined : await loadCredentials(options.credentialsFile, { log });
  const opened = await openSource(
    repo,
    { log },
    {
      ...(options.branch === undefined ? {} : { branch: options.branch }),
      ...(auth === undefined ? {} : { auth }),
    },
  );
  return { reader: opened.reader, revision: opened.revision ?? 'worktree', close: () => opened.close() };
};

/** What commands that load one appliance's desired state take. */
export interface DesiredInputOptions {
  repo: string;
  name: string;
  branch?: string;
  identity?: string;
  revision?: string;
  /** Access token file for an http(s) repo (from the bootstrap). */
  credentialsFile?: string;
}

/**
 * Opens `--repo`, decrypts and loads one appliance's desired state. Invalid config is printed
 * as `error: file: path: reason` lines with exit code 1, and `undefined` returned; a problem
 * that stops the command from running (no identity, unreachable repo) is thrown.
 */
export async function loadDesiredForCli(
  command: string,
  opts: DesiredInputOptions,
  io: CliIo,
  deps: DesiredInputDeps = {},
): Promise<DesiredState | undefined> {
  const decrypt = deps.decrypt ?? (await identityDecrypt(command, opts, io));
  const { reader, revision, close } = await (deps.openRepo ?? openRepoSpec)(opts.repo, {
    ...(opts.branch === undefined ? {} : { branch: opts.branch }),
    ...(opts.credentialsFile === undefined ? {} : { credentialsFile: opts.credentialsFile }),
  });
  try {
    const result = await loadDesired(reader, opts.name, { decrypt, revision: opts.revision ?? revision });
    if (!result.ok) {
      for (const e of result.errors) io.stderr(`error: ${formatIssue(e)}\n`);
      io.stderr(`appliance ${command}: ${opts.name}: the configuration is invalid (${result.errors.length} errors)\n`);
      io.setExitCode(1);
      return undefined;
    }
    for (const w of result.warnings) io.stderr(`warning: ${formatIssue(w)}\n`);
    return result.value;
  } finally {
    await close();
  }
}

async function identityDecrypt(command: string, opts: DesiredInputOptions, io: CliIo): Promise<DecryptEnv> {
  const keyFile = resolveIdentityFile(opts.identity, io.env);
  if (keyFile === undefined) {
    throw new AgentError(
      'AgeIdentityMissing',
      `${command} needs an age identity: pass --identity or set APPLIANCE_AGE_IDENTITY_FILE`,
      { terminal: true },
    );
  }
  const loaded = await decryptEnvFromIdentityFile(keyFile);
  for (const w of loaded.warnings) io.stderr(`appliance ${command}: warning: ${formatIssue(w)}\n`);
  return loaded.decrypt;
}
