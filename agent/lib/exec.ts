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

function tail(text: string, max = 2000): string {
  const t = text.trim();
  return t.length > max ? `…${t.slice(-max)}` : t;
}
