import QRCode from 'qrcode';

type VectorSink = PDFKit.PDFDocument;

/** A4 in PDF points, and the grid of codes on a code page. */
export const PAGE = { width: 595.28, height: 841.89, marginX: 36 } as const;
/**
 * A module is 1.92 pt (0.68 mm): exactly 4 pixels at 150 dpi and 8 printer dots at 300 dpi, so
 * renders and prints get whole-pixel modules. With the 4-module quiet zones a version-22 code
 * (105 modules; a full chunk fits it at level M) fills the 113-module box: 216.96 pt.
 */
export const MODULE_PT = 1.92;
const BOX_MODULES = 113;
export const GRID = { cols: 2, rows: 3, top: 62.4, rowPitch: 249.6, box: BOX_MODULES * MODULE_PT } as const;
export const CODES_PER_PAGE = GRID.cols * GRID.rows;

/**
 * Draws `text` as a QR code (level M) with its quiet zone inside the square box at (x, y).
 * Vector rectangles, not a bitmap: edges stay sharp at any print or render resolution and
 * nothing is resampled. Returns the QR version used.
 */
export function drawQrCode(doc: VectorSink, text: string, x: number, y: number, box: number): number {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const module = Math.min(MODULE_PT, box / (n + 8));
  // Centred on a whole module, so a smaller (last) code stays on the same pixel grid.
  const offset = Math.round((box - n * module) / 2 / module) * module;
  for (let r = 0; r < n; r++) {
    let c = 0;
    while (c < n) {
      if (qr.modules.get(r, c) === 0) {
        c++;
        continue;
      }
      let end = c;
      while (end < n && qr.modules.get(r, end) !== 0) end++;
      // Runs are joined so a row of dark modules is one rectangle: a smaller PDF, no seams.
      doc.rect(x + offset + c * module, y + offset + r * module, (end - c) * module, module);
      c = end;
    }
  }
  doc.fill('black');
  return qr.version;
}

/** Top-left corner of the code box for slot `slot` (0-based) on a code page. */
export function slotPosition(slot: number): { x: number; y: number } {
  const cellWidth = (PAGE.width - 2 * PAGE.marginX) / GRID.cols;
  const col = slot % GRID.cols;
  const row = Math.floor(slot / GRID.cols);
  // Snapped to whole 150 dpi pixels (0.48 pt) like the module size.
  const snap = (v: number): number => Math.round(v / 0.48) * 0.48;
  return {
    x: snap(PAGE.marginX + col * cellWidth + (cellWidth - GRID.box) / 2),
    y: snap(GRID.top + row * GRID.rowPitch),
  };
}
