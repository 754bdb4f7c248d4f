import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AgentError } from '../core/errors.ts';

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Data for stdin: the way to hand a secret to a child (never argv). */
  input?: string | Uint8Array;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Exit codes that are not failures (default: only 0). */
  okCodes?: readonly number[];
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * Every subprocess goes through here: argv arrays only (no shell), a timeout, an AbortSignal,
 * and an `ExecFailed` AgentError carrying command, exit code and the tail of stderr.
 */
export async function run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  // Loaded on first use: the daemon runs subprocesses only for snapshots and backups, and execa
  // with its dependencies is ~1.5 MB of heap that an idle agent would otherwise carry.
  const { execa } = await import('execa');
  const result = await execa(file, args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    timeout: options.timeoutMs ?? 120_000,
    reject: false,
    stripFinalNewline: false,
    encoding: 'utf8',
  });
  const exitCode = result.exitCode ?? -1;
  const okCodes = options.okCodes ?? [0];
  if (result.failed && !(result.exitCode !== undefined && okCodes.includes(result.exitCode) && !result.timedOut)) {
    throw new AgentError(
      'ExecFailed',
      `${file} ${args[0] ?? ''} failed: ${tail(result.stderr) || result.shortMessage}`,
      {
        data: { command: file, args: [...args], exitCode, timedOut: result.timedOut },
      },
    );
  }
  return { stdout: result.stdout, stderr: result.stderr, exitCode };
}

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
 * Like {@link run} (argv only, timeout, AbortSignal, `ExecFailed` with the tail of stderr), for
 * commands whose output is a stream: progress lines read as they come, or a large stdout piped
 * elsewhere without buffering it. An aborted or timed-out child gets SIGTERM, so restic can
 * remove its lock.
 */
export async function runStreaming(
  file: string,
  args: readonly string[],
  options: StreamExecOptions = {},
): Promise<StreamExecResult> {
  const { execa } = await import('execa');
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
