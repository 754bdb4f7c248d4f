import { PassThrough, type Duplex, type Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AgentError } from '../../core/errors.ts';
import type { DockerClient, Exec } from './client.ts';
import { dockerError } from './errors.ts';
import { demuxStream } from './streams.ts';

/** A running container to run commands in (`docker exec`). */
export interface ExecTarget {
  docker: DockerClient;
  /** Container name or id. */
  container: string;
  /** User inside the container (default: the image's). */
  user?: string;
  /** Environment of every command, `KEY=value`: the way secrets reach it (never argv). */
  env?: readonly string[];
}

/** Streams and limits of one command. */
export interface ContainerExecIo {
  /** Fed to the command's stdin, which is closed at its end. */
  stdin?: Readable | string;
  /** Receives stdout instead of the result (large output: a dump). */
  stdout?: Writable;
  /** Called with each complete stdout line (a session). */
  onStdout?: (chunk: Buffer) => void;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** How a command ended; stdout and stderr are the ends of the output (64 KiB each). */
export interface ContainerExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const KEEP = 64 * 1024;

/**
 * Runs a command in a running container through the engine's exec API, with stdout streamed to
 * a writable when given. Never throws for a non-zero exit: the caller reads `exitCode`. Throws
 * `ContainerExecFailed` when the engine cannot run it, `ContainerExecTimedOut` on timeout.
 */
export async function execInContainer(
  target: ExecTarget,
  cmd: readonly string[],
  io: ContainerExecIo = {},
): Promise<ContainerExecResult> {
  const container = target.docker.getContainer(target.container);
  let stream: Duplex;
  let exec: Exec;
  try {
    exec = await container.exec({
      Cmd: [...cmd],
      AttachStdin: io.stdin !== undefined,
      AttachStdout: true,
      AttachStderr: true,
      Env: [...(target.env ?? [])],
      ...(target.user === undefined ? {} : { User: target.user }),
    });
    stream = await exec.start();
  } catch (err) {
    throw dockerError(err, 'ContainerExecFailed', `run ${cmd[0] ?? ''} in ${target.container}`, {
      container: target.container,
    });
  }
  const out = new PassThrough();
  const errOut = new PassThrough();
  let stdout = '';
  let stderr = '';
  errOut.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-KEEP);
  });
  const sinks: Promise<void>[] = [];
  if (io.stdout !== undefined) {
    out.pipe(io.stdout);
    sinks.push(finished(io.stdout));
  } else {
    out.on('data', (c: Buffer) => {
      io.onStdout?.(c);
      if (io.onStdout === undefined) stdout = (stdout + c.toString('utf8')).slice(-KEEP);
    });
  }
  demuxStream(stream, out, errOut);
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', reject);
  });
  // Input still flowing when the command has ended (it failed early) only meets a closed socket.
  stream.on('error', () => undefined);
  if (typeof io.stdin === 'string') stream.end(io.stdin);
  else if (io.stdin !== undefined) io.stdin.pipe(stream);

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    const fail = (err: AgentError): void => {
      stream.destroy();
      reject(err);
    };
    timer = setTimeout(
      () => {
        fail(new AgentError('ContainerExecTimedOut', `${cmd[0] ?? ''} in ${target.container} timed out`));
      },
      io.timeoutMs ?? 6 * 3600_000,
    );
    onAbort = () => {
      fail(new AgentError('ContainerExecAborted', `${cmd[0] ?? ''} in ${target.container} was cancelled`));
    };
    io.signal?.addEventListener('abort', onAbort, { once: true });
  });
  stop.catch(() => undefined);
  try {
    await Promise.race([ended, stop]);
    if (io.stdin !== undefined && typeof io.stdin !== 'string') io.stdin.unpipe(stream);
    out.end();
    errOut.end();
    await Promise.race([Promise.all(sinks), stop]);
    const exitCode = await exitCodeOf(exec);
    return { exitCode, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) io.signal?.removeEventListener('abort', onAbort);
  }
}

async function exitCodeOf(exec: Exec): Promise<number> {
  // The stream can end a moment before the engine records the exit.
  for (let i = 0; i < 100; i++) {
    const info = await exec.inspect();
    if (!info.Running) return info.ExitCode ?? -1;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return -1;
}
