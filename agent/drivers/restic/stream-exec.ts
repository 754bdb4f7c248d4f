import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { execa } from 'execa';
import { AgentError } from '../../core/errors.ts';

/** Options of {@link runStreaming}. */
export interface StreamExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Exit codes that are not failures (default: only 0). */
  okCodes?: readonly number[];
  /** Called with each stdout line as it arrives; stdout is not kept. */
  onLine?: (line: string) => void;
  /** Where stdout goes instead of `onLine` (a file, another process's stdin). */
  stdout?: Writable;
  /** The child's stdin. */
  stdin?: Readable;
  /** Turns stderr into text that is safe to put in an error (secrets removed). */
  scrub?: (text: string) => string;
}

/** How a streamed command ended: stdout went to the caller, only the end of stderr is kept. */
export interface StreamExecResult {
  exitCode: number;
  stderr: string;
}

const STDERR_KEEP = 16 * 1024;

/**
 * Like `run` in agent/lib/exec.ts (argv only, timeout, AbortSignal, `ExecFailed` with the tail of
 * stderr), for commands whose output is a stream: progress lines read as they come, or a large
 * stdout piped elsewhere without buffering it. An aborted or timed-out child gets SIGTERM, so
 * restic can remove its lock.
 */
export async function runStreaming(
  file: string,
  args: readonly string[],
  options: StreamExecOptions = {},
): Promise<StreamExecResult> {
  const child = execa(file, args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    stdin: options.stdin ?? 'ignore',
    timeout: options.timeoutMs ?? 24 * 3600_000,
    buffer: false,
    reject: false,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP);
  });
  const consumed: Promise<unknown>[] = [];
  if (options.stdout !== undefined) {
    const out = options.stdout;
    child.stdout.pipe(out);
    consumed.push(finished(out));
    // A consumer that gave up must not leave the child blocked on a full pipe.
    out.once('close', () => {
      if (!child.stdout.readableEnded) child.kill();
    });
  } else {
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    const onLine = options.onLine;
    lines.on('line', (line) => onLine?.(line));
    consumed.push(new Promise((resolve) => lines.once('close', resolve)));
  }
  const result = await child;
  // A consumer that failed (a closed pipe) must not leave this pending forever.
  await Promise.race([Promise.allSettled(consumed), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  const exitCode = result.exitCode ?? -1;
  const scrub = options.scrub ?? ((t: string) => t);
  const ok = !result.timedOut && !result.isCanceled && (options.okCodes ?? [0]).includes(exitCode);
  if (!ok) {
    const why = result.timedOut ? 'timed out' : result.isCanceled ? 'was cancelled' : `exited with ${exitCode}`;
    throw new AgentError('ExecFailed', `${file} ${args[0] ?? ''} ${why}: ${scrub(tail(stderr))}`, {
      data: { command: file, args: [...args], exitCode, timedOut: result.timedOut, cancelled: result.isCanceled },
    });
  }
  return { exitCode, stderr: scrub(stderr) };
}

function tail(text: string, max = 2000): string {
  const t = text.trim();
  return t.length > max ? `…${t.slice(-max)}` : t;
}
