import type { Command } from 'commander';
import { stringify } from 'yaml';
import { AgentError, describeError, isAgentError } from '../core/errors.ts';
import { maskDesired } from '../core/desired.ts';
import { formatIssue } from '../core/result.ts';
import { decryptEnvFromIdentityFile } from '../config/decrypt-env.ts';
import { loadDesired, type DecryptEnv, type RepoReader } from '../config/load.ts';
import { formatDesiredText } from '../config/render-text.ts';
import { resolveIdentityFile } from '../config/sops/index.ts';
import { assertDir, processIo, type CliIo } from './validate.ts';
import { openSource } from '../source/index.ts';
import { createLogger } from '../lib/log.ts';

/** Opens `--repo` for reading; `close` removes what opening created (a temporary clone). */
export type RepoOpener = (
  repo: string,
  options: { branch?: string },
) => Promise<{ reader: RepoReader; revision: string; close: () => Promise<void> }>;

export interface RenderOptions {
  repo: string;
  name: string;
  branch?: string;
  identity?: string;
  json?: boolean;
  yaml?: boolean;
  revision?: string;
}

export interface RenderDeps {
  openRepo?: RepoOpener;
  /** Replaces identity-based decryption (tests). */
  decrypt?: DecryptEnv;
}

/** Opens a directory as it is, or fetches an http(s) URL into a temporary object store. */
export const openRepoSpec: RepoOpener = async (repo, options) => {
  if (!/^https?:\/\//i.test(repo)) await assertDir(repo);
  const log = createLogger({ level: 'warn' });
  const opened = await openSource(repo, { log }, options.branch === undefined ? {} : { branch: options.branch });
  return { reader: opened.reader, revision: opened.revision ?? 'worktree', close: () => opened.close() };
};

/** `appliance render --repo DIR --name N`: prints the resolved desired state, secrets masked. */
export function register(program: Command, io: CliIo = processIo, deps: RenderDeps = {}): void {
  program
    .command('render')
    .description("print an appliance's resolved desired state with secret values masked")
    .requiredOption('--repo <url|dir>', 'config repository: an http(s) git URL or a checkout directory')
    .option('--branch <branch>', 'branch to clone when --repo is a URL', 'main')
    .requiredOption('--name <name>', 'appliance name (appliances/<name>/)')
    .option('-i, --identity <keyfile>', 'age identity file to decrypt env.yml')
    .option('--revision <rev>', "revision label to show (default 'worktree' for a directory)")
    .option('--json', 'the full state as JSON')
    .option('--yaml', 'the full state as YAML')
    .addHelpText(
      'after',
      `
The identity file is --identity, else $APPLIANCE_AGE_IDENTITY_FILE, else $SOPS_AGE_KEY_FILE.
Secret values (x-secret in the schema, app secrets and values derived from them) print as ***.
Exit status 0 on success, 1 when the configuration is invalid, 2 when the command could not run.`,
    )
    .action(async (opts: RenderOptions) => {
      await runRender(opts, io, deps);
    });
}

/** Runs `render`. */
export async function runRender(opts: RenderOptions, io: CliIo, deps: RenderDeps = {}): Promise<void> {
  try {
    const decrypt = deps.decrypt ?? (await identityDecrypt(opts, io));
    const { reader, revision, close } = await (deps.openRepo ?? openRepoSpec)(
      opts.repo,
      opts.branch === undefined ? {} : { branch: opts.branch },
    );
    try {
      const result = await loadDesired(reader, opts.name, { decrypt, revision: opts.revision ?? revision });
      if (!result.ok) {
        for (const e of result.errors) io.stderr(`error: ${formatIssue(e)}\n`);
        io.stderr(`appliance render: ${opts.name}: the configuration is invalid (${result.errors.length} errors)\n`);
        io.setExitCode(1);
        return;
      }
      for (const w of result.warnings) io.stderr(`warning: ${formatIssue(w)}\n`);
      const masked = maskDesired(result.value);
      if (opts.json === true) io.stdout(`${JSON.stringify(masked, null, 2)}\n`);
      else if (opts.yaml === true) io.stdout(stringify(masked, { lineWidth: 0 }));
      else io.stdout(formatDesiredText(result.value));
      io.setExitCode(0);
    } finally {
      await close();
    }
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance render: ${describeError(err)}\n`);
    io.setExitCode(2);
  }
}

async function identityDecrypt(opts: RenderOptions, io: CliIo): Promise<DecryptEnv> {
  const keyFile = resolveIdentityFile(opts.identity, io.env);
  if (keyFile === undefined) {
    throw new AgentError(
      'AgeIdentityMissing',
      'render needs an age identity: pass --identity or set APPLIANCE_AGE_IDENTITY_FILE',
      { terminal: true },
    );
  }
  const loaded = await decryptEnvFromIdentityFile(keyFile);
  for (const w of loaded.warnings) io.stderr(`appliance render: warning: ${formatIssue(w)}\n`);
  return loaded.decrypt;
}
