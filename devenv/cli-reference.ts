import { readFile, writeFile } from 'node:fs/promises';
import { EXIT_OF_KIND } from '../agent/cli/exit-codes.ts';
import { buildProgram } from '../agent/cli/program.ts';
import { ERROR_CODES } from '../agent/core/error-codes.ts';

const START = '<!-- cli-reference -->';
const END = '<!-- /cli-reference -->';

/** The CLI reference section of README.md, made from the commands' own help texts. */
export function cliReference(): string {
  const program = buildProgram();
  program.configureOutput({ getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
  const parts = [START, '', '```', program.helpInformation().trimEnd(), '```'];
  const walk = (cmd: typeof program, prefix: string): void => {
    for (const sub of cmd.commands) {
      const name = `${prefix} ${sub.name()}`;
      sub.configureOutput({ getOutHelpWidth: () => 100 });
      parts.push('', `### \`${name.trim()}\``, '', '```', sub.helpInformation().trimEnd(), '```');
      walk(sub, name);
    }
  };
  walk(program, 'appliance');
  parts.push('', END);
  return parts.join('\n');
}

/** README.md with its CLI reference section replaced by the current one. */
export function withReference(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1) throw new Error(`README.md has no ${START} marker`);
  const tail = end === -1 ? readme.slice(start + START.length) : readme.slice(end + END.length);
  return readme.slice(0, start) + cliReference() + tail;
}

/** docs/errors.md: every error code the agent logs and the CLI prints, from the registry in core. */
export function errorReference(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, { kind, about }]) => `| \`${code}\` | ${kind} | ${String(EXIT_OF_KIND[kind])} | ${about} |`,
  );
  return [
    '# Error codes',
    '',
    'Every error the agent logs (`err.code` in its JSON lines) and the CLI prints has one of these codes.',
    'Match on the code, never on the message. The kind decides the exit status of a CLI command.',
    'Made by `npm run docs` from `agent/core/error-codes.ts`.',
    '',
    '| code | kind | exit | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] === import.meta.filename) {
  await writeFile(new URL('../docs/errors.md', import.meta.url), errorReference());
  const path = new URL('../README.md', import.meta.url);
  await writeFile(path, withReference(await readFile(path, 'utf8')));
}
