import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { PNG } from 'pngjs';
import { AgentError } from '../core/errors.ts';
import { assembleChunks, type AssembledSet } from './qr-chunks.ts';
import { run } from '../lib/exec.ts';
import { sha256, unpackContainer } from './recovery-archive.ts';
import { decodeQrCodes, type RgbaImage } from './qr-scan.ts';
import type { ProgressFn } from './recovery-pdf.ts';
import type { NamedFile } from './tar.ts';

export interface RecoverFromScanOptions {
  /** Id (or a prefix of it) of the set to use when codes of several sets were scanned. */
  setId?: string;
  onProgress?: ProgressFn;
  /** Parent of the private directory PDF pages are rendered into (default: the OS temp dir). */
  tmpDir?: string;
  /** Resolution PDF pages are rendered at (default 150 dpi). */
  dpi?: number;
  signal?: AbortSignal;
}

export interface RecoveredFiles {
  files: NamedFile[];
  setId: string;
  /** Chunks in the set. */
  total: number;
  /** Codes found per input image (a PDF counts each page), for a report to the user. */
  images: { path: string; codes: number }[];
  /** What was skipped (duplicates, other sets, foreign codes). */
  notes: string[];
}

/**
 * Recovers the files of a paper backup from PNG scans or photos (any number of codes per
 * image, any order, duplicates allowed) or from the PDF itself (rendered with pdftoppm). Every
 * chunk is checked; missing or damaged chunks are named by number in the error
 * (`ChunksMissing`, `ChunkCorrupt`), codes of several sets are refused (`ChunkSetsMixed`).
 */
export async function recoverFromScan(
  paths: readonly string[],
  options: RecoverFromScanOptions = {},
): Promise<RecoveredFiles> {
  if (paths.length === 0) throw new AgentError('ScanNoInput', 'no images given', { terminal: true });
  const texts: string[] = [];
  const images: { path: string; codes: number }[] = [];
  // A PDF's page count is known once it is rendered, so the total grows as PDFs are opened.
  let total = paths.length;
  let done = 0;
  for (const path of paths) {
    if (extname(path).toLowerCase() === '.pdf') {
      options.onProgress?.(done, total, `rendering ${path}`);
      await withRenderedPages(path, options, async (pages) => {
        total += pages.length - 1;
        for (const [i, page] of pages.entries()) {
          const label = `${path} page ${i + 1}`;
          const found = decodeQrCodes(await readPng(page, label));
          texts.push(...found);
          images.push({ path: label, codes: found.length });
          options.onProgress?.(++done, total, label);
        }
      });
    } else {
      const found = decodeQrCodes(await readPng(path, path));
      texts.push(...found);
      images.push({ path, codes: found.length });
      options.onProgress?.(++done, total, path);
    }
  }
  let set: AssembledSet;
  try {
    set = assembleChunks(texts, { sha256, ...(options.setId === undefined ? {} : { setId: options.setId }) });
  } catch (err) {
    // Which image gave how many codes helps find the page that is missing or misread.
    if (err instanceof AgentError)
      throw new AgentError(err.code, err.message, {
        terminal: err.terminal,
        data: { ...err.data, images },
        cause: err,
      });
    throw err;
  }
  return { files: unpackContainer(set.container), setId: set.setId, total: set.total, images, notes: set.notes };
}

/** Decodes a PNG into RGBA; `label` names the input in errors. */
export async function readPng(path: string, label: string): Promise<RgbaImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new AgentError(
      'ScanImageUnreadable',
      `${label}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        terminal: true,
        data: { file: label },
      },
    );
  }
  if (!bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    throw new AgentError('ScanImageUnsupported', `${label}: not a PNG image (give PNG files or the PDF)`, {
      terminal: true,
      data: { file: label },
    });
  try {
    const png = PNG.sync.read(bytes);
    return { width: png.width, height: png.height, data: png.data };
  } catch (err) {
    throw new AgentError('ScanImageUnreadable', `${label}: the PNG image is damaged`, {
      terminal: true,
      data: { file: label },
      cause: err,
    });
  }
}

/** Renders a PDF's pages to PNG in a private temp dir that is removed afterwards. */
async function withRenderedPages(
  pdf: string,
  options: RecoverFromScanOptions,
  body: (pages: string[]) => Promise<void>,
): Promise<void> {
  // The rendered pages hold the same secrets as the PDF: a 0700 directory, removed in finally.
  const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'appliance-scan-'));
  try {
    await run('pdftoppm', ['-r', String(options.dpi ?? 150), '-png', pdf, join(dir, 'page')], {
      timeoutMs: 600_000,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const pages = (await readdir(dir))
      .filter((f) => f.endsWith('.png'))
      .sort((a, b) => pageNumber(a) - pageNumber(b))
      .map((f) => join(dir, f));
    await body(pages);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function pageNumber(file: string): number {
  return Number(/-(\d+)\.png$/.exec(file)?.[1] ?? 0);
}
