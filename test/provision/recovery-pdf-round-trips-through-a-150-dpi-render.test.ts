import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { run } from '../../agent/lib/exec.ts';
import { sha256Hex } from '../../agent/provision/recovery-archive.ts';
import { buildRecoveryPdf, type RecoveryPdfResult } from '../../agent/provision/recovery-pdf.ts';
import { manualRecipe, recipientFingerprint } from '../../agent/provision/recovery-text.ts';
import { recoverFromScan } from '../../agent/provision/read-recovery-sheet.ts';
import { ageKeyPair, have, renderPages, shuffled, summaryFor } from './helpers.ts';

let dir = '';
let pdf = '';
let pages: string[] = [];
let result: RecoveryPdfResult;
let files: { name: string; data: Buffer }[] = [];
let recipients: string[] = [];
const progress: [number, number, string][] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recovery-pdf-'));
  const appliance = await ageKeyPair();
  const operator = await ageKeyPair();
  recipients = [appliance.recipient, operator.recipient];
  files = [
    {
      name: 'bootstrap.yml',
      data: Buffer.from('name: demo-one\nrepo:\n  url: https://git.example.org/ops/appliances.git\n'),
    },
    { name: 'age.key', data: Buffer.from(`${appliance.identity}\n`) },
    { name: 'env.yml', data: Buffer.from(`secret_key: ${randomBytes(32).toString('base64')}\n`) },
    // Incompressible, so the set spans two code pages.
    { name: 'extra.bin', data: randomBytes(6000) },
  ];
  pdf = join(dir, 'recovery.pdf');
  result = await buildRecoveryPdf({
    summary: summaryFor('demo-one', recipients),
    files,
    out: pdf,
    onProgress: (done, total, label) => progress.push([done, total, label]),
  });
  pages = await renderPages(pdf, join(dir));
});

after(() => rm(dir, { recursive: true, force: true }));

test('the PDF is 0600 A4 with a summary, code pages and a how-to page', async () => {
  assert.equal((await stat(pdf)).mode & 0o777, 0o600);
  assert.equal(result.codes, Math.ceil(result.containerBytes / 640));
  assert.equal(result.pages, 2 + Math.ceil(result.codes / 6));
  assert.equal(pages.length, result.pages);
  const info = await run('pdfinfo', [pdf]);
  assert.match(info.stdout, /Page size:\s+595\.28 x 841\.89 pts \(A4\)/);
  assert.deepEqual(progress.at(-1), [result.codes, result.codes, `QR code ${result.codes}/${result.codes}`]);
  assert.equal(progress.length, result.codes);
});

test('page 1 lists what is needed and no secret', async () => {
  const text = (await run('pdftotext', ['-layout', '-f', '1', '-l', '1', pdf, '-'])).stdout;
  for (const expected of [
    'demo-one',
    'demo-one.example.org',
    '2025-03-04 05:06:07 UTC',
    'https://git.example.org/ops/appliances.git',
    ...recipients,
    ...recipients.map(recipientFingerprint),
    ...files.map((f) => sha256Hex(f.data)),
    result.setId,
  ])
    assert.ok(text.includes(expected), `page 1 shows ${expected}`);
  const all = (await run('pdftotext', [pdf, '-'])).stdout;
  assert.ok(!all.includes('s3cr3t-token'), 'no repo credentials');
  assert.ok(!all.includes('AGE-SECRET-KEY-1'), 'no age identity');
  assert.ok(!all.includes(files[2]!.data.toString().slice(12, 40)), 'no env.yml value');
  const last = (await run('pdftotext', ['-f', String(result.pages), '-l', String(result.pages), pdf, '-'])).stdout;
  assert.match(last, /How to recover/);
  assert.match(last, /appliance config recover-from-scan/);
  assert.match(last, /zbarimg --raw/);
});

test('the codes on the rendered pages give back the files byte for byte, pages in any order', async () => {
  const seen: number[] = [];
  const got = await recoverFromScan(shuffled(pages), { onProgress: (done) => seen.push(done) });
  assert.deepEqual(
    got.files.map((f) => [f.name, Buffer.from(f.data)]),
    files.map((f) => [f.name, f.data]),
  );
  assert.equal(got.setId, result.setId);
  assert.equal(got.total, result.codes);
  assert.deepEqual(
    seen,
    pages.map((_, i) => i + 1),
  );
  assert.equal(
    got.images.reduce((n, i) => n + i.codes, 0),
    result.codes,
    'every code found once',
  );
});

test('the PDF itself can be given; its rendered pages are cleaned up', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'scan-tmp-'));
  try {
    const got = await recoverFromScan([pdf], { tmpDir: scratch });
    assert.deepEqual(
      got.files.map((f) => f.name),
      files.map((f) => f.name),
    );
    assert.equal(got.images.length, result.pages);
    assert.deepEqual(await readdir(scratch), []);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});

test('a missing page is reported by chunk numbers', async () => {
  const firstCodePage = pages[1]!;
  await assert.rejects(recoverFromScan(pages.filter((p) => p !== firstCodePage)), (err: unknown) => {
    assert.ok(isAgentError(err, 'ChunksMissing'));
    assert.equal(err.message, `missing chunks 1, 2, 3, 4, 5, 6 of ${result.codes}`);
    assert.deepEqual(err.data['missing'], [1, 2, 3, 4, 5, 6]);
    return true;
  });
});

test('the manual method on the last page works with zbarimg, coreutils and tar', async (t) => {
  if (!(await have('zbarimg'))) {
    t.skip('zbarimg (zbar-tools) is not installed');
    return;
  }
  const work = await mkdtemp(join(tmpdir(), 'manual-'));
  try {
    await run('cp', [pdf, join(work, 'recovery.pdf')]);
    const r = await run('bash', ['-euo', 'pipefail', '-c', manualRecipe(result.setId)], { cwd: work });
    assert.match(r.stdout, new RegExp(`^${result.setId.toLowerCase()}  recovered.tar.gz$`, 'm'));
    for (const f of files) assert.deepEqual(await readFile(join(work, 'recovered', f.name)), f.data, f.name);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
