import type { Readable, Writable } from 'node:stream';

/**
 * Splits the engine's multiplexed stream of a container without a TTY (frames of an 8-byte
 * header: stream type 1 stdout or 2 stderr, then the length) into `stdout` and `stderr` as it
 * flows. A stream that does not start with a valid header (a TTY) goes to `stdout` unchanged.
 */
export function demuxStream(source: Readable, stdout: Writable, stderr: Writable): void {
  let pending: Buffer = Buffer.alloc(0);
  let raw = false;
  source.on('data', (chunk: Buffer) => {
    if (raw) {
      stdout.write(chunk);
      return;
    }
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const kind = pending[0];
      if (kind !== 0 && kind !== 1 && kind !== 2) {
        raw = true;
        stdout.write(pending);
        pending = Buffer.alloc(0);
        return;
      }
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) return;
      const frame = pending.subarray(8, 8 + size);
      (kind === 2 ? stderr : stdout).write(frame);
      pending = pending.subarray(8 + size);
    }
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
 * engine reports failures inside the stream (`error`), so the caller must look at them.
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
    const end = (): void => {
      if (settled) return;
      settled = true;
      resolve(out);
    };
    source.once('end', end);
    source.once('close', end);
  });
}
