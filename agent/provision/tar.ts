import { AgentError } from '../core/errors.ts';

/** One file of a recovery set: a flat name (no directories) and its bytes. */
export interface NamedFile {
  name: string;
  data: Uint8Array;
}

/** Names a recovery file may have: flat, portable, and safe to join under any directory. */
export const FILE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const BLOCK = 512;

/**
 * A POSIX ustar archive of flat files, mode 0600, owner 0:0, so `tar -x` recovers them on any
 * system. `mtime` is in seconds since the epoch (passed in: the archive is reproducible).
 */
export function packTar(files: readonly NamedFile[], mtime: number): Uint8Array {
  checkNames(files.map((f) => f.name));
  const size = files.reduce((n, f) => n + BLOCK + Math.ceil(f.data.length / BLOCK) * BLOCK, 2 * BLOCK);
  const out = new Uint8Array(size);
  let at = 0;
  for (const f of files) {
    out.set(header(f.name, f.data.length, mtime), at);
    at += BLOCK;
    out.set(f.data, at);
    at += Math.ceil(f.data.length / BLOCK) * BLOCK;
  }
  return out;
}

/** Reads an archive written by packTar (regular files only; header checksums verified). */
export function unpackTar(archive: Uint8Array): NamedFile[] {
  const files: NamedFile[] = [];
  let at = 0;
  while (at + BLOCK <= archive.length) {
    const h = archive.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) return checked(files);
    if (octal(h, 148, 8) !== checksum(h)) throw invalid(`header checksum mismatch at offset ${at}`);
    const name = text(h, 0, 100);
    const type = String.fromCharCode(h[156] ?? 0);
    const size = octal(h, 124, 12);
    if (type !== '0' && type !== '\0') throw invalid(`entry '${name}' is not a regular file`);
    if (at + BLOCK + size > archive.length) throw invalid(`entry '${name}' is truncated`);
    files.push({ name, data: archive.slice(at + BLOCK, at + BLOCK + size) });
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw invalid('the archive has no end marker');
}

/** Refuses names that are not flat and portable, and duplicates. */
export function checkNames(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (!FILE_NAME_RE.test(name))
      throw new AgentError('FileNameInvalid', `'${name}' is not a valid file name (letters, digits, '.', '_', '-')`, {
        terminal: true,
        data: { name },
      });
    if (seen.has(name))
      throw new AgentError('FileNameDuplicate', `file '${name}' is given twice`, { terminal: true, data: { name } });
    seen.add(name);
  }
}

function checked(files: NamedFile[]): NamedFile[] {
  try {
    checkNames(files.map((f) => f.name));
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : String(err));
  }
  return files;
}

function header(name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  put(h, 0, name);
  put(h, 100, '0000600\0');
  put(h, 108, '0000000\0');
  put(h, 116, '0000000\0');
  put(h, 124, size.toString(8).padStart(11, '0') + '\0');
  put(h, 136, Math.max(0, Math.floor(mtime)).toString(8).padStart(11, '0') + '\0');
  put(h, 148, '        ');
  put(h, 156, '0');
  put(h, 257, 'ustar\x0000');
  put(h, 265, 'root');
  put(h, 297, 'root');
  put(h, 148, checksum(h).toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
  return sum;
}

function put(h: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) h[at + i] = s.charCodeAt(i) & 0xff;
}

function text(h: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len && h[i] !== 0; i++) s += String.fromCharCode(h[i] ?? 0);
  return s;
}

function octal(h: Uint8Array, at: number, len: number): number {
  const s = text(h, at, len).trim();
  if (!/^[0-7]+$/.test(s)) throw invalid(`bad number '${s}' in a header`);
  return parseInt(s, 8);
}

function invalid(reason: string): AgentError {
  return new AgentError('ArchiveInvalid', `the recovered archive is not valid: ${reason}`, { terminal: true });
}
