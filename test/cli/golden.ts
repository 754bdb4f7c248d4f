import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../agent/cli/io.ts';

const dir = fileURLToPath(new URL('./golden/', import.meta.url));

/** Compares `actual` with test/cli/golden/<name>; `UPDATE_GOLDEN=1` rewrites the file instead. */
export async function assertGolden(name: string, actual: string): Promise<void> {
  const path = `${dir}${name}`;
  if (process.env['UPDATE_GOLDEN'] === '1') {
    await writeFile(path, actual);
    return;
  }
  const expected = await readFile(path, 'utf8');
  assert.equal(actual, expected, `output differs from test/cli/golden/${name} (UPDATE_GOLDEN=1 to accept)`);
}

/** A CliIo that records what a command printed and its exit code. */
export function captureIo(env: Record<string, string | undefined> = {}): CliIo & {
  out: string;
  err: string;
  code: number | undefined;
} {
  const io = {
    out: '',
    err: '',
    code: undefined as number | undefined,
    env,
    stdout(text: string) {
      io.out += text;
    },
    stderr(text: string) {
      io.err += text;
    },
    setExitCode(code: number) {
      io.code = code;
    },
  };
  return io;
}
