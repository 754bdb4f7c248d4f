import PDFDocument from 'pdfkit';
import { splitIntoChunks, type Chunk } from './qr-chunks.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { packContainer, sha256, sha256Hex } from './recovery-archive.ts';
import { CODES_PER_PAGE, drawQrCode, GRID, PAGE, slotPosition } from './qr-draw.ts';
import {
  checkSummary,
  writeHowToPage,
  writeSummaryPage,
  type RecoverySummary,
  type SetFacts,
} from './recovery-text.ts';
import { checkNames, type NamedFile } from './tar.ts';

/** Called as long work advances, so a terminal can show progress. */
export type ProgressFn = (done: number, total: number, label: string) => void;

export interface BuildRecoveryPdfOptions {
  summary: RecoverySummary;
  /** The files stored in the codes (e.g. bootstrap.yml, age.key, env.yml); flat names. */
  files: readonly NamedFile[];
  /** Where the PDF is written (mode 0600: the codes hold secrets). */
  out: string;
  onProgress?: ProgressFn;
}

export interface RecoveryPdfResult {
  /** SHA-256 of the stored container, upper-case hex: printed on page 1 and in every code. */
  setId: string;
  codes: number;
  pages: number;
  containerBytes: number;
}

/**
 * Writes the printable recovery sheet: page 1 a summary without secrets, then the files as QR
 * codes (six per A4 page, each captioned `<appliance> chunk I/N`), then "How to recover".
 */
export async function buildRecoveryPdf(options: BuildRecoveryPdfOptions): Promise<RecoveryPdfResult> {
  const summary = checkSummary(options.summary);
  checkNames(options.files.map((f) => f.name));
  const container = packContainer(options.files, summary.createdAt);
  const chunks = splitIntoChunks(container, { sha256 });
  const [first] = chunks;
  const setId = first?.setId ?? '';
  const codePages = Math.ceil(chunks.length / CODES_PER_PAGE);
  const facts: SetFacts = {
    setId,
    codes: chunks.length,
    codePages,
    containerBytes: container.length,
    files: options.files.map((f) => ({ name: f.name, size: f.data.length, sha256: sha256Hex(f.data) })),
  };

  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: 40, bottom: 40, left: PAGE.marginX, right: PAGE.marginX },
    bufferPages: true,
    info: {
      Title: `Appliance recovery sheet: ${summary.appliance}`,
      Creator: 'appliance config create',
      CreationDate: summary.createdAt,
    },
  });
  const bytes = collect(doc);
  writeSummaryPage(doc, summary, facts);
  for (let page = 0; page < codePages; page++) {
    doc.addPage();
    pageHeader(doc, `${summary.appliance}: recovery codes, page ${page + 1} of ${codePages}`, setId);
    const onPage = chunks.slice(page * CODES_PER_PAGE, (page + 1) * CODES_PER_PAGE);
    onPage.forEach((chunk, slot) => {
      drawChunk(doc, chunk, slot, summary.appliance);
      options.onProgress?.(page * CODES_PER_PAGE + slot + 1, chunks.length, `QR code ${chunk.index}/${chunk.total}`);
    });
  }
  doc.addPage();
  writeHowToPage(doc, facts);
  const pages = addFooters(doc, summary.appliance);
  doc.end();
  await writeFileAtomic(options.out, await bytes, { mode: 0o600 });
  return { setId, codes: chunks.length, pages, containerBytes: container.length };
}

function drawChunk(doc: PDFKit.PDFDocument, chunk: Chunk, slot: number, appliance: string): void {
  const { x, y } = slotPosition(slot);
  drawQrCode(doc, chunk.text, x, y, GRID.box);
  doc
    .font('Helvetica')
    .fontSize(10)
    .fillColor('black')
    .text(`${appliance} chunk ${chunk.index}/${chunk.total}`, x, y + GRID.box + 1, {
      width: GRID.box,
      align: 'center',
      lineBreak: false,
    });
}

function pageHeader(doc: PDFKit.PDFDocument, title: string, setId: string): void {
  doc.font('Helvetica-Bold').fontSize(11).text(title, PAGE.marginX, 30, { lineBreak: false });
  doc
    .font('Helvetica')
    .fontSize(8)
    .text(`set ${setId.slice(0, 16)}...`, PAGE.marginX, 32, {
      width: PAGE.width - 2 * PAGE.marginX,
      align: 'right',
      lineBreak: false,
    });
}

function addFooters(doc: PDFKit.PDFDocument, appliance: string): number {
  const { start, count } = doc.bufferedPageRange();
  for (let i = start; i < start + count; i++) {
    doc.switchToPage(i);
    // Writing below the bottom margin would make pdfkit start a new page.
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(8)
      .fillColor('black')
      .text(
        `${appliance} recovery sheet, page ${i + 1} of ${count}. Contains secrets: store it safely.`,
        PAGE.marginX,
        PAGE.height - 26,
        { width: PAGE.width - 2 * PAGE.marginX, align: 'center', lineBreak: false },
      );
    doc.page.margins.bottom = bottom;
  }
  doc.flushPages();
  return count;
}

function collect(doc: PDFKit.PDFDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    doc.on('data', (b: Buffer) => parts.push(b));
    doc.on('end', () => {
      resolve(Buffer.concat(parts));
    });
    doc.on('error', reject);
  });
}
