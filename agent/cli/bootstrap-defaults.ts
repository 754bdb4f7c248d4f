import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadBootstrap } from '../config/bootstrap.ts';
import type { BootstrapConfig } from '../core/config-types.gen.ts';
import { AgentError, describeError } from '../core/errors.ts';
import { formatIssue } from '../core/result.ts';

/** Where the agent's bootstrap file is on an appliance. */
export const BOOTSTRAP_FILE = '/etc/appliance/bootstrap.yml';
export const DEFAULT_STATE_DIR = '/var/lib/appliance';

/** The machine options as given on the command line (commander fills in no defaults). */
export interface MachineFlags {
  config?: string;
  repo?: string;
  branch?: string;
  name?: string;
  identity?: string;
  stateDir?: string;
}

/** The options after the bootstrap's defaults are filled in. */
export interface MachineOptions {
  repo: string;
  branch?: string;
  name: string;
  identity?: string;
  stateDir: string;
  /** The repository's access token file (bootstrap repo.credentials_file), when the repo came from it. */
  credentialsFile?: string;
  /** The bootstrap's docker_host, when DOCKER_HOST is not set. */
  dockerHost?: string;
}

/** Adds `--config`, the bootstrap file the other options default to. */
export function bootstrapOption(cmd: Command): Command {
  return cmd.option(
    '-c, --config <file>',
    `bootstrap file whose values the options default to (default: ${BOOTSTRAP_FILE})`,
  );
}

/**
 * Fills in what the command line leaves out from the bootstrap file (`--config`, else
 * /etc/appliance/bootstrap.yml when it exists): repo URL and branch, name, age identity, state
 * directory, and the Docker engine when DOCKER_HOST is not set. Explicit flags always win; an
 * identity from the environment wins over the bootstrap's. Throws `UsageError` when --repo or
 * --name is still missing, `BootstrapInvalid` for a bad file.
 */
export async function withBootstrapDefaults(
  flags: MachineFlags,
  env: Readonly<Record<string, string | undefined>>,
): Promise<MachineOptions> {
  const complete = flags.repo !== undefined && flags.name !== undefined && flags.stateDir !== undefined;
  const boot = complete && flags.config === undefined ? undefined : await readBootstrapFile(flags.config);
  const repo = flags.repo ?? boot?.repo.url;
  const name = flags.name ?? boot?.name;
  if (repo === undefined || name === undefined) {
    throw new AgentError(
      'UsageError',
      `needs --repo and --name, or a bootstrap file to take them from (--config; ${BOOTSTRAP_FILE} does not exist)`,
      { terminal: true },
    );
  }
  const fromBoot = flags.repo === undefined && boot !== undefined;
  const envIdentity = env['APPLIANCE_AGE_IDENTITY_FILE'] ?? env['SOPS_AGE_KEY_FILE'];
  const identity = flags.identity ?? (envIdentity === undefined ? boot?.age_identity_file : undefined);
  const branch = flags.branch ?? (fromBoot ? boot.repo.branch : undefined);
  const credentialsFile = fromBoot ? boot.repo.credentials_file : undefined;
  const dockerHost = env['DOCKER_HOST'] === undefined ? boot?.docker_host : undefined;
  return {
    repo,
    name,
    stateDir: flags.stateDir ?? boot?.state_dir ?? DEFAULT_STATE_DIR,
    ...(branch === undefined ? {} : { branch }),
    ...(identity === undefined ? {} : { identity }),
    ...(credentialsFile === undefined ? {} : { credentialsFile }),
    ...(dockerHost === undefined ? {} : { dockerHost }),
  };
}

/** The bootstrap file; undefined when none was named and the default one does not exist. */
export async function readBootstrapFile(file: string | undefined): Promise<BootstrapConfig | undefined> {
  const path = file ?? BOOTSTRAP_FILE;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (file === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentError('BootstrapUnreadable', `${path}: cannot read the bootstrap file (${describeError(err)})`, {
      terminal: true,
    });
  }
  const result = loadBootstrap(text, path);
  if (!result.ok) {
    throw new AgentError('BootstrapInvalid', result.errors.map(formatIssue).join('\n'), { terminal: true });
  }
  return result.value;
}
