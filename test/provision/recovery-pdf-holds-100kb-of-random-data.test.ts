import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildRecoveryPdf } from '../../agent/provision/recovery-pdf.ts';
import { recoverFromScan } from '../../agent/provision/read-recovery-sheet.ts';
import { renderPages, shuffled, summaryFor, tempDir } from './helpers.ts';

test('100 KB of incompressible data round-trips through a 150 dpi render', async (t) => {
  const dir = await tempDir(t);
  const files = [
    { name: 'bootstrap.yml', data: Buffer.from('name: big-one\n') },
    { name: 'random.bin', data: randomBytes(100 * 1024) },
  ];
  const pdf = join(dir, 'recovery.pdf');
  const started = Date.now();
  const result = await buildRecoveryPdf({ summary: summaryFor('big-one', []), files, out: pdf });
  const built = Date.now();
  const pages = await renderPages(pdf, dir);
  const rendered = Date.now();
  const got = await recoverFromScan(shuffled(pages, 3));
  const decoded = Date.now();
  t.diagnostic(
    `${result.containerBytes} bytes -> ${result.codes} codes on ${result.pages} pages ` +
      `(${result.pages - 2} code pages); build ${built - started} ms, pdftoppm ${rendered - built} ms, ` +
      `decode ${decoded - rendered} ms`,
  );
  // 100 KiB of random bytes barely changes under gzip: 161 chunks of 640 bytes, 27 code pages.
  assert.equal(result.codes, Math.ceil(result.containerBytes / 640));
  assert.ok(result.codes >= 160 && result.codes <= 162, String(result.codes));
  assert.equal(result.pages, 2 + Math.ceil(result.codes / 6));
  assert.deepEqual(
    got.files.map((f) => [f.name, Buffer.from(f.data)]),
    files.map((f) => [f.name, f.data]),
  );
});
