import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { AgentError, describeError } from '../core/errors.ts';
import { formatIssue } from '../core/result.ts';
import { decryptSopsToText, loadIdentities, resolveIdentityFile, type Format } from '../sops/index.ts';

import { processIo, type CliIo } from './io.ts';

export { processIo, type CliIo };

/** `appliance decrypt FILE`: prints the decrypted SOPS file after verifying its MAC. */
export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('decrypt')
    .description('decrypt a SOPS (age) YAML or JSON file and print the plaintext')
    .argument('<file>', 'SOPS-encrypted file')
    .option('-i, --identity <keyfile>', 'age identity file (one AGE-SECRET-KEY-… per line)')
    .addOption(inputTypeOption())
    .addHelpText(
      'after',
      `
The identity file is --identity, else $APPLIANCE_AGE_IDENTITY_FILE, else $SOPS_AGE_KEY_FILE.
The MAC is always verified; a file that fails it is not printed. Output is YAML for YAML
input and JSON for JSON input (.json files, or --input-type json).`,
    )
    .action(async (file: string, opts: { identity?: string; inputType?: Format }) => {
      await reportErrors('decrypt', file, io, async () => {
        const { identities } = await identitiesFor(opts.identity, io, 'decrypt');
        const text = await readInput(file);
        io.stdout(await decryptSopsToText(text, { file, identities, ...formatOf(opts.inputType) }));
      });
    });
}

/** Loads the identities the options and environment point at, printing permission warnings. */
export async function identitiesFor(
  explicit: string | undefined,
  io: CliIo,
  command: string,
): Promise<{ identities: string[] }> {
  const keyFile = resolveIdentityFile(explicit, io.env);
  if (keyFile === undefined)
    throw new AgentError(
      'AgeIdentityMissing',
      'no age identity: pass --identity or set APPLIANCE_AGE_IDENTITY_FILE or SOPS_AGE_KEY_FILE',
      { terminal: true },
    );
  const { identities, warnings } = await loadIdentities(keyFile);
  for (const w of warnings) io.stderr(`appliance ${command}: warning: ${formatIssue(w)}\n`);
  return { identities };
}

/** Reads the input file; the error names the file and the reason only. */
export async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new AgentError('FileUnreadable', `${file}: cannot read (${code})`, { terminal: true, data: { file } });
  }
}

/** Runs a command body; any failure becomes one line `appliance <cmd>: <file>: <problem>` and exit 1. */
export async function reportErrors(command: string, file: string, io: CliIo, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    // Errors that carry data.file (all of the sops module's) already start with that file.
    const named = err instanceof AgentError && typeof err.data['file'] === 'string';
    const message = named ? err.message : `${file}: ${describeError(err)}`;
    io.stderr(`appliance ${command}: ${firstLine(message)}\n`);
    io.setExitCode(1);
  }
}

export function inputTypeOption(): Option {
  return new Option('--input-type <type>', 'file format (default: by extension, .json else yaml)').choices([
    'yaml',
    'json',
  ]);
}

export function formatOf(inputType: Format | undefined): { format?: Format } {
  return inputType === undefined ? {} : { format: inputType };
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}
