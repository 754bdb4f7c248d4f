import { CommanderError, type Command } from 'commander';
import { ERROR_CODES, type ErrorKind } from '../core/error-codes.ts';
import { isAgentError } from '../core/errors.ts';

/** The exit status of every command (README "Exit codes", `appliance --help`). */
export const EXIT = {
  ok: 0,
  /** Invalid config, or the command refused (e.g. a repository that does not exist). */
  invalid: 1,
  /** Docker, git, restic or the agent could not be reached or failed. */
  unavailable: 2,
  /** Bad command line (commander's usage errors included). */
  usage: 64,
} as const;

/** The table shown after `appliance --help`. */
export const EXIT_CODES_HELP = `
Exit codes (every command):
  0   ok
  1   invalid config, or refused
  2   environment unavailable (Docker, git, restic or the agent unreachable, or failing)
  64  usage error (unknown command or option, missing argument)
  plan also exits 3 when there are changes; backup check 3 when it found errors.`;

/** The exit status of each kind of error (agent/core/error-codes.ts; docs/errors.md shows it). */
export const EXIT_OF_KIND: Record<ErrorKind, number> = {
  input: EXIT.invalid,
  refused: EXIT.invalid,
  environment: EXIT.unavailable,
  failed: EXIT.unavailable,
  usage: EXIT.usage,
};

/** The exit status for an error a command caught: the kind its code has in the registry. */
export function exitCodeFor(err: unknown): number {
  return isAgentError(err) ? EXIT_OF_KIND[ERROR_CODES[err.code].kind] : EXIT.unavailable;
}

/** Parses and runs a command line; commander's usage errors (thrown by exitOverride) exit 64. */
export async function runCli(program: Command, argv: readonly string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
}
