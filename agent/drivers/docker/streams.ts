import type { Readable, Writable } from 'node:stream';

/** Which output a frame of a multiplexed stream belongs to. */
export type OutputKind = 'stdout' | 'stderr';

/**
 * The one parser of the engine's multiplexed stream of a container without a TTY: frames of an
 * 8-byte header (stream type 1 stdout or 2 stderr, then the length) and their bytes. Frames may
 * be cut across chunks. A stream that does not start with a valid header (a TTY) is passed to
 * `stdout` unchanged. `emit` returns false to ask the source to wait (backpressure).
 */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private raw = false;

  constructor(private readonly emit: (kind: OutputKind, data: Buffer) => boolean) {}

  /** Feeds a chunk; false when a consumer asked to wait before the next one. */
  push(chunk: Buffer): boolean {
    if (this.raw) return this.emit('stdout', chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let ok = true;
    while (this.pending.length >= 8) {
      const kind = this.pending[0];
      if (kind !== 0 && kind !== 1 && kind !== 2) {
        this.raw = true;
        const rest = this.pending;
        this.pending = Buffer.alloc(0);
        return this.emit('stdout', rest) && ok;
      }
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const frame = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      ok = this.emit(kind === 2 ? 'stderr' : 'stdout', frame) && ok;
    }
    return ok;
  }
}

/**
 * Splits a multiplexed stream into `stdout` and `stderr` as it flows (see FrameSplitter). When
 * a target's buffer is full the source is paused until it drains.
 */
export function demuxStream(source: Readable, stdout: Writable, stderr: Writable): void {
  // One drain listener per full target, however many frames it refused meanwhile.
  const full = new Set<Writable>();
  const splitter = new FrameSplitter((kind, data) => {
    const target = kind === 'stderr' ? stderr : stdout;
    if (target.write(data)) return true;
    if (!full.has(target)) {
      full.add(target);
      target.once('drain', () => {
        full.delete(target);
        if (full.size === 0) source.resume();
      });
    }
    return false;
  });
  source.on('data', (chunk: Buffer) => {
    if (!splitter.push(chunk) && full.size > 0) source.pause();
  });
}

/** Keeps the last `limit` bytes written to it: bounded memory for output of any length. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** True once bytes were dropped from the front. */
  truncated = false;

  constructor(private readonly limit: number) {}

  push(data: Buffer): void {
    this.chunks.push(data);
    this.size += data.length;
    let first = this.chunks[0];
    while (this.size > this.limit && first !== undefined) {
      const over = this.size - this.limit;
      this.truncated = true;
      if (first.length <= over) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.size -= over;
      }
      first = this.chunks[0];
    }
  }

  /** The kept bytes as text, with `…` in front when the start was dropped. */
  text(): string {
    const body = Buffer.concat(this.chunks).toString('utf8');
    return this.truncated ? `…${body}` : body;
  }
}

/**
 * Reads a multiplexed stream to its end keeping the last `limit` bytes of stdout and of stderr,
 * so that a command that prints without end cannot fill the agent's memory.
 */
export function readOutputTail(
  source: Readable,
  limit: number,
): Promise<{ stdout: string; stderr: string; truncated: boolean }> {
  const tails = { stdout: new TailBuffer(limit), stderr: new TailBuffer(limit) };
  const splitter = new FrameSplitter((kind, data) => {
    tails[kind].push(data);
    return true;
  });
  return new Promise((resolve, reject) => {
    source.on('data', (chunk: Buffer) => splitter.push(chunk));
    source.once('error', reject);
    source.once('end', () => {
      resolve({
        stdout: tails.stdout.text(),
        stderr: tails.stderr.text(),
        truncated: tails.stdout.truncated || tails.stderr.truncated,
      });
    });
  });
}

/** One message of a JSON progress stream (pull): status lines, or an error. */
export interface ProgressMessage {
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Reads a JSON-lines progress stream (an image pull) to its end and returns every message. The
 * engine reports failures inside the stream (`error`), so the caller must look at them; a stream
 * that closes without its end rejects.
 */
export function followProgress(source: Readable): Promise<ProgressMessage[]> {
  return new Promise((resolve, reject) => {
    const out: ProgressMessage[] = [];
    let text = '';
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      source.destroy();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    source.setEncoding('utf8');
    source.on('data', (chunk: string) => {
      text += chunk;
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl).trim();
        text = text.slice(nl + 1);
        if (line === '') continue;
        try {
          out.push(JSON.parse(line) as ProgressMessage);
        } catch (err) {
          fail(err);
          return;
        }
      }
    });
    source.once('error', fail);
    source.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(out);
    });
    // Closed before its end (the engine went away, the connection broke): the pull did not finish.
    source.once('close', () => {
      fail(new Error('the progress stream ended before the pull finished'));
    });
  });
}
