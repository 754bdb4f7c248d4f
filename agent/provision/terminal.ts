import { AgentError, isAgentError } from '../core/errors.ts';
import { readRegularFile } from '../lib/fs.ts';
import type { ProgressFn } from './recovery-pdf.ts';

/** Progress callbacks that draw on a terminal: one line per step, a counter for long loops. */
export function terminalProgress(write: (text: string) => void): {
  onStep: (label: string) => void;
  onProgress: ProgressFn;
} {
  let counting = false;
  return {
    onStep: (label) => {
      if (counting) write('\n');
      counting = false;
      write(`\r\x1b[K… ${label}\n`);
    },
    onProgress: (done, total, label) => {
      counting = done < total;
      write(`\r\x1b[K  [${done}/${total}] ${label}${done === total ? '\n' : ''}`);
    },
  };
}

/** Reads a text file given on the command line; the error names the file and the reason only. */
export async function readText(path: string): Promise<string> {
  try {
    return await readRegularFile(path);
  } catch (err) {
    if (isAgentError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new AgentError('FileUnreadable', `${path}: cannot read (${code})`, { terminal: true, data: { file: path } });
  }
}
