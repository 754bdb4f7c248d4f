import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AgentError } from '../../core/errors.ts';

const BLOCK = 512;

/**
 * Copies the first regular file of a tar stream (the engine's answer to `getArchive` of one
 * file) to `out`, which is ended, and returns its size. Reads ustar headers, with the size from
 * a PAX record or in base-256 when the file is larger than octal's 8 GiB.
 */
export async function readTarFile(tar: Readable, out: Writable): Promise<number> {
  try {
    return await copyFirstFile(tar, out);
  } catch (err) {
    tar.destroy();
    out.destroy();
    throw err;
  }
}

async function copyFirstFile(tar: Readable, out: Writable): Promise<number> {
  let pending: Buffer = Buffer.alloc(0);
  let paxSize: number | undefined;
  let skip = 0;
  /** Bytes of the file still to copy; undefined while headers are read. */
  let left: number | undefined;
  let size = 0;
  for await (const chunk of tar as AsyncIterable<Buffer>) {
    let buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (left !== undefined) {
        const part = buf.subarray(0, left);
        left -= part.length;
        buf = buf.subarray(part.length);
        if (!out.write(part)) await once(out, 'drain');
        if (left === 0) break;
        continue;
      }
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        skip -= n;
        buf = buf.subarray(n);
        continue;
      }
      if (buf.length < BLOCK) {
        pending = buf;
        break;
      }
      const header = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (header.every((b) => b === 0)) throw tarError('the archive has no file');
      const type = String.fromCharCode(header[156] ?? 0);
      const length = sizeOf(header);
      if (type === 'x') {
        // A PAX record set for the next entry; only its size matters here.
        if (buf.length < padded(length)) {
          pending = Buffer.concat([header, buf]);
          break;
        }
        paxSize = paxRecordSize(buf.subarray(0, length).toString('utf8')) ?? paxSize;
        buf = buf.subarray(padded(length));
      } else if (type === '0' || type === '\0') {
        size = paxSize ?? length;
        left = size;
        if (left === 0) break;
      } else {
        skip = padded(length);
      }
    }
    if (left === 0) break;
  }
  if (left !== 0) throw tarError(left === undefined ? 'the archive has no file' : 'the archive ended inside the file');
  tar.destroy();
  out.end();
  await finished(out);
  return size;
}

function sizeOf(header: Buffer): number {
  const field = header.subarray(124, 136);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    // base-256: the first byte's high bit marks it, the rest is a big-endian number.
    let n = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] ?? 0);
    return n;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function paxRecordSize(records: string): number | undefined {
  const m = /(?:^|\n)\d+ size=(\d+)\n/.exec(records);
  return m === null ? undefined : Number(m[1]);
}

function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function tarError(message: string): AgentError {
  return new AgentError('ContainerArchiveInvalid', `reading a file out of a container: ${message}`);
}
