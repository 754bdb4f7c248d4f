import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { CliIo } from '../../agent/cli/io.ts';
import { registerRecoverFromScan } from '../../agent/cli/config-recover-from-scan.ts';
import { buildRecoveryPdf, type RecoveryPdfResult } from '../../agent/provision/recovery-pdf.ts';
import { renderPages, summaryFor } from './helpers.ts';

let dir = '';
let pdf = '';
let pages: string[] = [];
let result: RecoveryPdfResult;
const files = [
  { name: 'bootstrap.yml', data: Buffer.from('name: cli-one\n') },
  { name: 'env.yml', data: randomBytes(4000) },
];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recover-cli-'));
  pdf = join(dir, 'recovery.pdf');
  result = await buildRecoveryPdf({ summary: summaryFor('cli-one', []), files, out: pdf });
  await mkdir(join(dir, 'pages'));
  pages = await renderPages(pdf, join(dir, 'pages'));
});

after(() => rm(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  const got = { out: '', err: '', code: 0 };
  const io: CliIo = {
    stdout: (t) => (got.out += t),
    stderr: (t) => (got.err += t),
    setExitCode: (c) => (got.code = c),
    env: {},
  };
  const program = new Command('appliance').exitOverride();
  registerRecoverFromScan(program.command('config'), io);
  await program.parseAsync(['config', 'recover-from-scan', ...args], { from: 'user' });
  return got;
}

test('recover-from-scan writes the files 0600 into a 0700 directory', async () => {
  const out = join(dir, 'restored');
  const r = await cli('--out-dir', out, ...[...pages].reverse());
  assert.equal(r.code, 0, r.err);
  assert.equal((await stat(out)).mode & 0o777, 0o700);
  for (const f of files) {
    assert.deepEqual(await readFile(join(out, f.name)), f.data);
    assert.equal((await stat(join(out, f.name))).mode & 0o777, 0o600);
  }
  assert.match(r.out, /bootstrap\.yml {2}14 bytes {2}sha256 [0-9a-f]{64}/);
  assert.match(r.out, new RegExp(`all ${result.codes} chunks found and verified`));
});

test('existing files are kept unless --force is given', async () => {
  const out = join(dir, 'existing');
  await mkdir(out);
  await writeFile(join(out, 'env.yml'), 'keep me');
  const r = await cli('-o', out, pdf);
  assert.equal(r.code, 1);
  assert.match(r.err, /already has env\.yml \(use --force to overwrite\)/);
  assert.equal(await readFile(join(out, 'env.yml'), 'utf8'), 'keep me');
  const forced = await cli('-o', out, '--force', pdf);
  assert.equal(forced.code, 0, forced.err);
  assert.deepEqual(await readFile(join(out, 'env.yml')), files[1]!.data);
});

test('a missing page fails with the chunk numbers and what each image gave', async () => {
  const out = join(dir, 'incomplete');
  const r = await cli('-o', out, pages[0]!, pages[2]!);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    new RegExp(`^appliance config recover-from-scan: missing chunks 1, 2, 3, 4, 5, 6 of ${result.codes}$`, 'm'),
  );
  assert.match(r.err, /page-\d+\.png: 0 codes/);
  await assert.rejects(stat(out), 'nothing written');
});
