import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { AgentError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { encryptSops, type EncryptionRule, type Format } from '../sops/index.ts';
import { formatOf, inputTypeOption, readInput, reportErrors } from './decrypt.ts';
import { processIo, type CliIo } from './io.ts';

interface EncryptFlags {
  recipient?: string[];
  encryptedRegex?: string;
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: string;
  macOnlyEncrypted?: boolean;
  inPlace?: boolean;
  inputType?: Format;
}

/** `appliance encrypt FILE`: encrypts a plaintext YAML/JSON file with SOPS for age recipients. */
export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('encrypt')
    .description('encrypt a YAML or JSON file with SOPS for age recipients')
    .argument('<file>', 'plaintext file')
    .option('-r, --recipient <age1…>', 'age recipient; repeat or separate with commas', collect)
    .addOption(ruleOption('--encrypted-regex <re>', 'encrypt only values under keys matching RE'))
    .addOption(
      ruleOption('--unencrypted-suffix <s>', 'leave values under keys ending in S in clear (default _unencrypted)'),
    )
    .addOption(ruleOption('--encrypted-suffix <s>', 'encrypt only values under keys ending in S'))
    .addOption(ruleOption('--unencrypted-regex <re>', 'leave values under keys matching RE in clear'))
    .option('--mac-only-encrypted', 'MAC only the encrypted values (plaintext ones may be edited)')
    .option('--in-place', 'replace FILE (atomically, keeping its mode) instead of printing')
    .addOption(inputTypeOption())
    .addHelpText(
      'after',
      `
Writes what sops 3.10 writes; the real sops decrypts it. The result is decrypted again and
its MAC checked before it is printed or written. Refuses a file that is already encrypted.
Example: appliance encrypt env.yml -r age1… -r age1pq1… --in-place`,
    )
    .action(async (file: string, flags: EncryptFlags) => {
      await reportErrors('encrypt', file, io, async () => {
        const recipients = flags.recipient ?? [];
        if (recipients.length === 0)
          throw new AgentError('SopsBadRecipient', 'no recipient: pass --recipient age1…', { terminal: true });
        const plaintext = await readInput(file);
        const out = await encryptSops(plaintext, {
          file,
          recipients,
          macOnlyEncrypted: flags.macOnlyEncrypted ?? false,
          ...ruleOf(flags),
          ...formatOf(flags.inputType),
        });
        if (!flags.inPlace) io.stdout(out);
        else await writeFileAtomic(file, out, { mode: await modeOf(file) });
      });
    });
}

const RULE_FLAGS = [
  ['encryptedRegex', 'encrypted_regex'],
  ['unencryptedSuffix', 'unencrypted_suffix'],
  ['encryptedSuffix', 'encrypted_suffix'],
  ['unencryptedRegex', 'unencrypted_regex'],
] as const;

function ruleOption(flags: string, description: string): Option {
  const others = RULE_FLAGS.map(([name]) => name).filter((name) => !flags.includes(kebab(name)));
  return new Option(flags, description).conflicts(others);
}

function ruleOf(flags: EncryptFlags): { rule?: EncryptionRule } {
  for (const [name, kind] of RULE_FLAGS) {
    const value = flags[name];
    if (value !== undefined) return { rule: { kind, value } };
  }
  return {};
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== ''),
  ];
}

async function modeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).mode & 0o7777;
  } catch {
    return 0o600;
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
