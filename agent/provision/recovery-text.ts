import { AgentError } from '../core/errors.ts';
import { DEFAULT_PAYLOAD_CHARS } from './qr-chunks.ts';
import { sha256Hex } from './recovery-archive.ts';
import { PAGE } from './qr-draw.ts';
import { publicUrl } from '../lib/public-url.ts';

/** What page 1 of the recovery sheet says. Nothing here may be a secret. */
export interface RecoverySummary {
  appliance: string;
  domain?: string;
  createdAt: Date;
  /** Config repository URL; any user:password part is left out of the print. */
  repoUrl?: string;
  /** Public age recipients (age1…) the config is encrypted to. */
  ageRecipients: readonly string[];
  /** Extra lines for page 1 (e.g. where the encrypted copies are kept). */
  notes?: readonly string[];
}

/** The facts about the stored set that page 1 lists beside the summary. */
export interface SetFacts {
  setId: string;
  codes: number;
  codePages: number;
  containerBytes: number;
  files: readonly { name: string; size: number; sha256: string }[];
}

type TextSink = PDFKit.PDFDocument;

const BODY = PAGE.width - 2 * PAGE.marginX;
const BYTES_PER_CHUNK = (DEFAULT_PAYLOAD_CHARS / 8) * 5;

/** First 16 hex digits of the SHA-256 of a recipient string: short enough to compare by eye. */
export function recipientFingerprint(recipient: string): string {
  return sha256Hex(recipient).slice(0, 16);
}

/** Refuses a summary that carries secret material; strips credentials from the repo URL. */
export function checkSummary(summary: RecoverySummary): RecoverySummary {
  const all = [summary.appliance, summary.domain, summary.repoUrl, ...summary.ageRecipients, ...(summary.notes ?? [])];
  if (all.some((v) => v !== undefined && /AGE-SECRET-KEY-|PRIVATE KEY/i.test(v)))
    throw new AgentError('SummaryHasSecret', 'the recovery sheet summary must not contain secret keys', {
      terminal: true,
    });
  if (summary.repoUrl === undefined) return summary;
  return { ...summary, repoUrl: publicUrl(summary.repoUrl) };
}

/** Page 1: who, when, which keys, which files, and how the codes are laid out. */
export function writeSummaryPage(doc: TextSink, s: RecoverySummary, facts: SetFacts): void {
  const left = PAGE.marginX;
  doc.font('Helvetica-Bold').fontSize(18).text(`Appliance recovery sheet: ${s.appliance}`, left, 40, { width: BODY });
  doc.moveDown(0.3).font('Helvetica').fontSize(10);
  doc.text(
    'This sheet stores the appliance configuration as QR codes for offline recovery. ' +
      'The codes contain secrets (the appliance age identity and bootstrap configuration): ' +
      'keep the paper as safe as the keys themselves, and destroy it when the keys are rotated.',
    { width: BODY },
  );
  doc.moveDown();
  field(doc, 'Appliance', s.appliance);
  if (s.domain !== undefined) field(doc, 'Domain', s.domain);
  field(
    doc,
    'Created',
    s.createdAt
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC'),
  );
  if (s.repoUrl !== undefined) field(doc, 'Config repository', s.repoUrl);
  heading(doc, 'Age recipients (public keys the config is encrypted to)');
  if (s.ageRecipients.length === 0) doc.font('Helvetica').fontSize(10).text('(none given)', { width: BODY });
  for (const r of s.ageRecipients) {
    doc.font('Courier').fontSize(8).text(r, { width: BODY });
    doc
      .font('Helvetica')
      .fontSize(8)
      .text(`fingerprint (SHA-256 of the line, first 16 hex): ${recipientFingerprint(r)}`, {
        width: BODY,
      });
    doc.moveDown(0.3);
  }
  heading(doc, 'Files stored in the codes');
  for (const f of facts.files) {
    doc.font('Helvetica-Bold').fontSize(10).text(`${f.name}  `, { continued: true });
    doc.font('Helvetica').text(`${f.size} bytes`);
    doc.font('Courier').fontSize(8).text(`sha256 ${f.sha256}`, { width: BODY });
    doc.moveDown(0.3);
  }
  heading(doc, 'Code set');
  doc.font('Helvetica').fontSize(10);
  doc.text(
    `${plural(facts.codes, 'QR code')} on the ${plural(facts.codePages, 'page')} after this summary, holding ` +
      `${facts.containerBytes} bytes of compressed data. Set id (SHA-256 of that data, printed in every code):`,
    { width: BODY },
  );
  doc.font('Courier').fontSize(8).text(facts.setId, { width: BODY });
  for (const note of s.notes ?? []) {
    doc.moveDown(0.5);
    doc.font('Helvetica').fontSize(10).text(note, { width: BODY });
  }
}

/** The shell commands of the manual method, for a sheet saved as recovery.pdf. */
export function manualRecipe(setId: string): string {
  return [
    `SET=${setId}`,
    'pdftoppm -r 150 -png recovery.pdf page   # or scan the paper to page-*.png',
    'zbarimg --raw -q page-*.png > codes.txt || test $? = 4   # 4: some page has no code',
    `grep "^APPL1 $SET " codes.txt | sort -t ' ' -k3,3n -u > chunks.txt`,
    "cut -d ' ' -f3 chunks.txt                # must list 1/N, 2/N, ... N/N",
    "cut -d ' ' -f5 chunks.txt | tr -d '\\n' | base32 -d > recovered.tar.gz",
    `sha256sum recovered.tar.gz               # must print ${setId.slice(0, 16).toLowerCase()}...`,
    'mkdir recovered && tar -xzf recovered.tar.gz -C recovered',
  ].join('\n');
}

/** The last page: recovery with the tool, and precisely enough without it. */
export function writeHowToPage(doc: TextSink, facts: SetFacts): void {
  const left = PAGE.marginX;
  doc.font('Helvetica-Bold').fontSize(16).text('How to recover', left, 40, { width: BODY });
  heading(doc, 'With the appliance tool');
  doc.font('Courier').fontSize(8.5).text('appliance config recover-from-scan --out-dir DIR FILE...', { width: BODY });
  doc
    .font('Helvetica')
    .fontSize(10)
    .text(
      'FILE is this PDF, or PNG scans or photos of the code pages (one or many codes per image, any order, ' +
        'duplicates allowed). It checks every code, names missing or damaged chunks by number, verifies the ' +
        'SHA-256 of the whole set and writes the files with mode 0600.',
      { width: BODY },
    );
  heading(doc, 'Without the tool');
  doc.font('Helvetica').fontSize(10);
  const steps = [
    'Read every code with any QR reader. Each code holds one line of plain text (QR alphanumeric mode; ' +
      'only the last code may end in "=" characters):',
    '',
    `Fields are separated by single spaces. APPL1 names this format. SET is the SHA-256 of the stored data in ` +
      `64 hex digits, the same in every code of this sheet. I/N says the code holds chunk I of N. CRC is the ` +
      'CRC-32 (the gzip/zlib polynomial) of the line with the CRC field and its space removed, in 8 hex digits; ' +
      `checking it is optional. PAYLOAD is bytes (I-1)*${BYTES_PER_CHUNK} up to I*${BYTES_PER_CHUNK} of the data, ` +
      'encoded in base32 (RFC 4648, alphabet A-Z 2-7, "=" padding only at the very end).',
    'Keep the codes with this SET, put them in order 1 to N, drop duplicates and check that none is missing.',
    'Join the PAYLOAD fields in that order without spaces or newlines and base32-decode the text.',
    'The result is a gzip-compressed POSIX tar archive; its SHA-256 must equal SET (sha256sum prints it in ' +
      'lower case). Unpack it with tar (or in Python with base64.b32decode and tarfile): it holds ' +
      'the files listed on page 1, each of which must match its SHA-256 there.',
  ];
  let n = 1;
  for (const step of steps) {
    if (step === '') {
      doc
        .font('Courier')
        .fontSize(8.5)
        .text('APPL1 SET I/N CRC PAYLOAD', left + 20, undefined, { width: BODY - 20 });
      doc.font('Helvetica').fontSize(10).moveDown(0.3);
      continue;
    }
    doc.text(`${n}. ${step}`, left, undefined, { width: BODY });
    doc.moveDown(0.3);
    n++;
  }
  heading(doc, 'For example, with poppler-utils, zbar-tools, coreutils and tar (Debian package names):');
  doc.font('Courier').fontSize(7.5).text(manualRecipe(facts.setId), left, undefined, { width: BODY });
  doc.moveDown();
  doc
    .font('Helvetica')
    .fontSize(10)
    .text(
      'Work on an offline machine and delete codes.txt, chunks.txt, recovered.tar.gz and the page images afterwards: ' +
        'they hold the same secrets as this paper.',
      left,
      undefined,
      { width: BODY },
    );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function heading(doc: TextSink, text: string): void {
  doc.moveDown(0.8);
  doc.font('Helvetica-Bold').fontSize(11).text(text, PAGE.marginX, undefined, { width: BODY });
  doc.moveDown(0.2);
}

function field(doc: TextSink, label: string, value: string): void {
  doc.font('Helvetica-Bold').fontSize(10).text(`${label}: `, PAGE.marginX, undefined, { continued: true });
  doc.font('Helvetica').text(value);
}
