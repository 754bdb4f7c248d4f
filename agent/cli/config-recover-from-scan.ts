import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AgentError, describeError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { sha256Hex } from '../provision/recovery-archive.ts';
import { recoverFromScan } from '../provision/read-recovery-sheet.ts';
import { processIo, type CliIo } from './io.ts';
import { pathExists } from '../lib/fs.ts';

interface Options {
  outDir: string;
  set?: string;
  force?: boolean;
}

/** Adds `recover-from-scan` to the `config` command group. */
export function registerRecoverFromScan(configCommand: Command, io: CliIo = processIo): void {
  configCommand
    .command('recover-from-scan')
    .description('recover the files stored on a printed recovery sheet from scans, photos or its PDF')
    .argument('<files...>', 'PNG scans or photos of the code pages (any order), or the recovery PDF')
    .requiredOption('-o, --out-dir <dir>', 'directory for the recovered files (created with mode 0700)')
    .option('--set <id>', 'use only the codes of this set (its id from page 1, or a prefix of it)')
    .option('--force', 'overwrite files that already exist in the output directory')
    .addHelpText(
      'after',
      `
Every QR code in the images is read (several per image, duplicates allowed), checked, put in
order and verified against the set's SHA-256; the files are written with mode 0600. Missing
or damaged codes are named by number ("missing chunks 3, 7 of 12"): scan those again and
run the command with all images. A .pdf is rendered at 150 dpi with pdftoppm (poppler-utils).`,
    )
    .action(async (files: string[], opts: Options) => {
      try {
        await recover(files, opts, io);
      } catch (err) {
        io.stderr(`appliance config recover-from-scan: ${describeError(err).split('\n', 1)[0] ?? ''}\n`);
        const images = err instanceof AgentError ? err.data['images'] : undefined;
        if (Array.isArray(images)) for (const line of imageLines(images)) io.stderr(`  ${line}\n`);
        io.setExitCode(1);
      }
    });
}

async function recover(files: string[], opts: Options, io: CliIo): Promise<void> {
  const showProgress = io === processIo && process.stderr.isTTY;
  const result = await recoverFromScan(files, {
    ...(opts.set === undefined ? {} : { setId: opts.set }),
    ...(showProgress
      ? {
          onProgress: (done: number, total: number, label: string) => {
            io.stderr(`\r\x1b[K[${done}/${total}] ${label}${done === total ? '\n' : ''}`);
          },
        }
      : {}),
  });
  if (opts.force !== true) {
    const existing: string[] = [];
    for (const f of result.files) if (await pathExists(join(opts.outDir, f.name))) existing.push(f.name);
    if (existing.length > 0)
      throw new AgentError(
        'OutputExists',
        `${opts.outDir} already has ${existing.join(', ')} (use --force to overwrite)`,
        {
          terminal: true,
        },
      );
  }
  await mkdir(opts.outDir, { recursive: true, mode: 0o700 });
  for (const f of result.files) {
    // File names were checked when the archive was read: flat, no path separators.
    await writeFileAtomic(join(opts.outDir, f.name), f.data, { mode: 0o600 });
    io.stdout(`${join(opts.outDir, f.name)}  ${f.data.length} bytes  sha256 ${sha256Hex(f.data)}\n`);
  }
  for (const note of result.notes) io.stderr(`note: ${note}\n`);
  io.stdout(`set ${result.setId.slice(0, 16)}...: all ${result.total} chunks found and verified\n`);
}

function imageLines(images: unknown[]): string[] {
  return images.map((i) => {
    const { path, codes } = i as { path: string; codes: number };
    return `${path}: ${codes} code${codes === 1 ? '' : 's'}`;
  });
}
