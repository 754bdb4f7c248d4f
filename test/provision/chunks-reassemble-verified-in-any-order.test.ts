import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import { isAgentError } from '../../agent/core/errors.ts';
import {
  assembleChunks,
  base32Decode,
  base32Encode,
  crc32,
  formatChunk,
  parseChunk,
  splitIntoChunks,
} from '../../agent/provision/qr-chunks.ts';
import { sha256 } from '../../agent/provision/recovery-archive.ts';
import { shuffled } from './helpers.ts';

const texts = (data: Uint8Array, payloadChars?: number): string[] =>
  splitIntoChunks(data, { sha256, ...(payloadChars === undefined ? {} : { payloadChars }) }).map((c) => c.text);

test('base32 and CRC-32 match RFC 4648 and zlib test vectors', () => {
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'MY======'],
    ['fo', 'MZXQ===='],
    ['foo', 'MZXW6==='],
    ['foob', 'MZXW6YQ='],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI======'],
  ];
  for (const [plain, encoded] of vectors) {
    assert.equal(base32Encode(Buffer.from(plain)), encoded);
    assert.equal(Buffer.from(base32Decode(encoded)).toString(), plain);
  }
  const bytes = randomBytes(1001);
  assert.deepEqual(Buffer.from(base32Decode(base32Encode(bytes))), bytes);
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('chunks round-trip in any order, with duplicates, for many sizes', () => {
  for (const size of [1, 639, 640, 641, 5000, 20_001]) {
    const data = randomBytes(size);
    const chunks = texts(data);
    assert.equal(chunks.length, Math.ceil(size / 640));
    const set = assembleChunks([...shuffled(chunks, size), ...chunks.slice(0, 2)], { sha256 });
    assert.deepEqual(Buffer.from(set.container), data, `size ${size}`);
    assert.equal(set.total, chunks.length);
  }
  assert.throws(
    () => texts(new Uint8Array(0)),
    (err: unknown) => isAgentError(err, 'ChunkSetEmpty'),
  );
});

test('a chunk is one header line plus base32 in the QR alphanumeric set and fits version 22-M', () => {
  const data = randomBytes(3000);
  const chunks = splitIntoChunks(data, { sha256 });
  const first = chunks[0]!;
  assert.match(first.text, /^APPL1 [0-9A-F]{64} 1\/5 [0-9A-F]{8} [A-Z2-7]{1024}$/);
  assert.equal(first.setId, Buffer.from(sha256(data)).toString('hex').toUpperCase());
  const last = chunks.at(-1)!.text;
  assert.match(last, /^APPL1 [0-9A-F]{64} 5\/5 [0-9A-F]{8} [A-Z2-7]+=*$/);
  // The worst header: four-digit numbers.
  const worst = formatChunk(first.setId, 9999, 9999, 'A'.repeat(1024));
  assert.ok(QRCode.create(worst, { errorCorrectionLevel: 'M' }).version <= 22);
  assert.ok(QRCode.create(last, { errorCorrectionLevel: 'M' }).version <= 22);
});

test('missing chunks are named by number', () => {
  const chunks = texts(randomBytes(640 * 11 + 5));
  assert.equal(chunks.length, 12);
  const some = chunks.filter((_, i) => i !== 2 && i !== 6);
  assert.throws(
    () => assembleChunks(some, { sha256 }),
    (err: unknown) => {
      assert.ok(isAgentError(err, 'ChunksMissing'));
      assert.equal(err.message, 'missing chunks 3, 7 of 12');
      assert.deepEqual(err.data['missing'], [3, 7]);
      return true;
    },
  );
});

test('a damaged chunk is detected by its CRC and named; a good copy of it makes up for it', () => {
  const chunks = texts(randomBytes(3000));
  const third = chunks[2]!;
  // One payload character changed, as a misread would.
  const at = third.length - 10;
  const damaged = third.slice(0, at) + (third[at] === 'A' ? 'B' : 'A') + third.slice(at + 1);
  assert.equal(parseChunk(damaged)?.intact, false);
  const withDamaged = chunks.map((c, i) => (i === 2 ? damaged : c));
  assert.throws(
    () => assembleChunks(withDamaged, { sha256 }),
    (err: unknown) => {
      assert.ok(isAgentError(err, 'ChunkCorrupt'));
      assert.match(err.message, /chunk 3 of 5 is damaged/);
      assert.deepEqual(err.data['corrupt'], [3]);
      return true;
    },
  );
  // Damage in the set id leaves the chunk unplaceable: it counts as missing, not as a second set.
  const badId = third.slice(0, 8) + (third[8] === '0' ? '1' : '0') + third.slice(9);
  assert.throws(
    () => assembleChunks([...chunks.filter((c) => c !== third), badId], { sha256 }),
    (err: unknown) => isAgentError(err, 'ChunksMissing') && err.message === 'missing chunk 3 of 5',
  );
  const set = assembleChunks([...withDamaged, third], { sha256 });
  assert.equal(set.total, 5);
  assert.ok(set.notes.some((n) => n.includes('damaged copy of chunk 3')));
});

test('a chunk with a valid CRC but wrong content fails the SHA-256 of the set', () => {
  const chunks = splitIntoChunks(randomBytes(2000), { sha256 });
  const c = chunks[1]!;
  const payload = c.text.split(' ')[4]!;
  const forged = formatChunk(c.setId, c.index, c.total, (payload[0] === 'A' ? 'B' : 'A') + payload.slice(1));
  assert.throws(
    () =>
      assembleChunks(
        chunks.map((x, i) => (i === 1 ? forged : x.text)),
        { sha256 },
      ),
    (err: unknown) => isAgentError(err, 'ChunkChecksumMismatch'),
  );
  assert.throws(
    () => assembleChunks([...chunks.map((x) => x.text), forged], { sha256 }),
    (err: unknown) => isAgentError(err, 'ChunkConflict') && /chunk 2 of 4/.test(err.message),
  );
});

test('chunks of two sets do not mix; a set id prefix picks one', () => {
  const a = texts(randomBytes(1500));
  const b = texts(randomBytes(1500));
  assert.throws(
    () => assembleChunks([...a, ...b.slice(0, 1)], { sha256 }),
    (err: unknown) => {
      assert.ok(isAgentError(err, 'ChunkSetsMixed'));
      assert.match(err.message, /2 different sets/);
      return true;
    },
  );
  const setA = a[0]!.split(' ')[1]!;
  const picked = assembleChunks([...b.slice(0, 1), ...a], { sha256, setId: setA.slice(0, 12).toLowerCase() });
  assert.equal(picked.setId, setA);
  assert.ok(picked.notes.some((n) => n.includes('other sets')));
  assert.throws(
    () => assembleChunks(a, { sha256, setId: 'FFFFFFFFFFFF' }),
    (err: unknown) => isAgentError(err, 'ChunksNotFound'),
  );
});

test('foreign QR texts are ignored; an unknown format version is reported', () => {
  const a = texts(randomBytes(700));
  const set = assembleChunks(['https://example.org/', 'WIFI:S:x;;', ...a], { sha256 });
  assert.ok(set.notes.some((n) => n.startsWith('2 code(s)')));
  assert.throws(
    () => assembleChunks(['APPL2 XYZ 1/1 00 AAAA'], { sha256 }),
    (err: unknown) => isAgentError(err, 'ChunkFormatUnsupported'),
  );
  assert.throws(
    () => assembleChunks(['hello'], { sha256 }),
    (err: unknown) => isAgentError(err, 'ChunksNotFound'),
  );
});
