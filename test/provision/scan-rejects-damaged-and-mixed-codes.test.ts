import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { isAgentError } from '../../agent/core/errors.ts';
import { buildRecoveryPdf, type RecoveryPdfResult } from '../../agent/provision/recovery-pdf.ts';
import { decodeQrCodes, type RgbaImage } from '../../agent/provision/qr-scan.ts';
import { readPng, recoverFromScan } from '../../agent/provision/read-recovery-sheet.ts';
import { renderPages, summaryFor } from './helpers.ts';

let dir = '';
const sheets: { result: RecoveryPdfResult; pages: string[] }[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scan-'));
  for (const name of ['first', 'second']) {
    const pdf = join(dir, `${name}.pdf`);
    const files = [{ name: 'env.yml', data: randomBytes(2500) }];
    const result = await buildRecoveryPdf({ summary: summaryFor(name, []), files, out: pdf });
    await mkdir(join(dir, name));
    sheets.push({ result, pages: await renderPages(pdf, join(dir, name)) });
  }
});

after(() => rm(dir, { recursive: true, force: true }));

/** A PNG of one QR code, as a photo of a single code would be after cropping. */
async function qrPng(text: string, file: string): Promise<void> {
  await writeFile(file, await QRCode.toBuffer(text, { errorCorrectionLevel: 'M', scale: 5, margin: 4 }));
}

function codesOf(pages: string[]): Promise<string[]> {
  return Promise.all(pages.map(async (p) => decodeQrCodes(await readPng(p, p)))).then((x) => x.flat());
}

test('a damaged code is detected and named; a good scan of it repairs the set', async () => {
  const [sheet] = sheets;
  const codes = await codesOf(sheet!.pages);
  const second = codes.find((c) => c.split(' ')[2]?.startsWith('2/'))!;
  const at = second.length - 5;
  const damaged = second.slice(0, at) + (second[at] === 'Q' ? 'R' : 'Q') + second.slice(at + 1);
  const damagedPng = join(dir, 'damaged.png');
  await qrPng(damaged, damagedPng);
  const others = sheet!.pages.slice(1, -1);
  // The code page holding chunk 2 is left out; only the damaged copy of chunk 2 is given.
  const photos = [damagedPng];
  for (const c of codes.filter((x) => x !== second)) {
    const f = join(dir, `chunk-${photos.length}.png`);
    await qrPng(c, f);
    photos.push(f);
  }
  await assert.rejects(recoverFromScan(photos), (err: unknown) => {
    assert.ok(isAgentError(err, 'ChunkCorrupt'));
    assert.match(err.message, new RegExp(`^chunk 2 of ${sheet!.result.codes} is damaged`));
    return true;
  });
  const repaired = await recoverFromScan([...photos, ...others]);
  assert.equal(repaired.setId, sheet!.result.setId);
  assert.ok(repaired.notes.some((n) => n.includes('damaged copy of chunk 2')));
});

test('pages of two sheets do not mix; choosing a set by id works', async () => {
  const [a, b] = sheets;
  const mixed = [...a!.pages, b!.pages[1]!];
  await assert.rejects(recoverFromScan(mixed), (err: unknown) => {
    assert.ok(isAgentError(err, 'ChunkSetsMixed'));
    assert.ok(err.message.includes(a!.result.setId.slice(0, 16)));
    assert.ok(err.message.includes(b!.result.setId.slice(0, 16)));
    return true;
  });
  const got = await recoverFromScan(mixed, { setId: a!.result.setId.slice(0, 10) });
  assert.equal(got.setId, a!.result.setId);
});

test('a photo-like crop of one code (rotated, enlarged, grey paper) is read', async () => {
  const page = await readPng(sheets[0]!.pages[1]!, 'page');
  // The second code on the page, cut loosely, turned 90 degrees, enlarged 1.7x, on grey.
  const crop = cut(page, 560, 100, 560, 560);
  const photo = greyPaper(scale(rotate90(crop), 1.7));
  const found = decodeQrCodes(photo);
  assert.equal(found.length, 1);
  assert.match(found[0]!, /^APPL1 [0-9A-F]{64} 2\//);
  const two = cut(page, 0, 0, page.width, 700);
  assert.equal(decodeQrCodes(two).length, 2, 'a crop of the top row still gives both codes');
});

test('images that are not PNG are refused with the file named', async () => {
  const jpeg = join(dir, 'photo.jpg');
  await writeFile(jpeg, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0, 0]));
  await assert.rejects(
    recoverFromScan([jpeg]),
    (err: unknown) => isAgentError(err, 'ScanImageUnsupported') && err.message.startsWith(jpeg),
  );
  await assert.rejects(recoverFromScan([join(dir, 'nope.png')]), (err: unknown) =>
    isAgentError(err, 'ScanImageUnreadable'),
  );
});

function cut(img: RgbaImage, x0: number, y0: number, w: number, h: number): RgbaImage {
  const out = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++)
    out.data.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + w) * 4), y * w * 4);
  return { width: w, height: h, data: out.data };
}

function rotate90(img: RgbaImage): RgbaImage {
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const from = (y * img.width + x) * 4;
      const to = (x * img.height + (img.height - 1 - y)) * 4;
      data.set(img.data.subarray(from, from + 4), to);
    }
  return { width: img.height, height: img.width, data };
}

function scale(img: RgbaImage, f: number): RgbaImage {
  const width = Math.round(img.width * f);
  const height = Math.round(img.height * f);
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const from = (Math.floor(y / f) * img.width + Math.floor(x / f)) * 4;
      data.set(img.data.subarray(from, from + 4), (y * width + x) * 4);
    }
  return { width, height, data };
}

function greyPaper(img: RgbaImage): RgbaImage {
  const data = new Uint8Array(img.data);
  let seed = 1;
  for (let i = 0; i < data.length; i += 4) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const noise = (seed % 31) - 15;
    for (let k = 0; k < 3; k++) data[i + k] = Math.max(0, Math.min(255, (data[i + k] ?? 0) * 0.7 + 40 + noise));
  }
  return { width: img.width, height: img.height, data };
}
