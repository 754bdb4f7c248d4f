import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { AgentError } from '../../core/errors.ts';
import { execInContainer, type ContainerExecResult, type ExecTarget } from '../docker/container-exec.ts';

/** psql flags of every call: no psqlrc, unaligned tuples only, stop at the first error. */
export const PSQL_FLAGS = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];

/**
 * One psql process inside the database container, fed statement by statement on stdin: a
 * transaction that stays open across calls (an exported snapshot that pg_dump shares). Each
 * `query` returns the output lines of its statements; the first SQL error ends the session.
 */
export class PsqlSession {
  private buffer = '';
  private lines: string[] = [];
  private waiting: { marker: string; resolve: (lines: string[]) => void; reject: (err: Error) => void } | undefined;
  private ended: { result?: ContainerExecResult; error?: Error } | undefined;
  private readonly input = new PassThrough();
  private readonly done: Promise<ContainerExecResult>;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(target: ExecTarget, user: string, database: string) {
    this.done = execInContainer(target, ['psql', ...PSQL_FLAGS, '-U', user, '-d', database], {
      stdin: this.input,
      onStdout: (chunk) => {
        this.take(chunk.toString('utf8'));
      },
    });
    this.done.then(
      (result) => {
        this.finish({ result });
      },
      (error: unknown) => {
        this.finish({ error: error instanceof Error ? error : new Error(String(error)) });
      },
    );
  }

  /** Starts psql connected to `database` as `user`. */
  static open(target: ExecTarget, user: string, database: string): PsqlSession {
    return new PsqlSession(target, user, database);
  }

  /** Runs SQL (and psql meta-commands) after the queries asked before it; returns the lines it printed. */
  query(sql: string): Promise<string[]> {
    const result = this.queue.then(() => this.send(sql));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private send(sql: string): Promise<string[]> {
    if (this.ended !== undefined) return Promise.reject(this.endError());
    const marker = `__appliance_${randomBytes(8).toString('hex')}__`;
    return new Promise((resolve, reject) => {
      this.waiting = { marker, resolve, reject };
      this.input.write(`${sql.trimEnd()}\n\\echo ${marker}\n`);
    });
  }

  /** Ends psql (an open transaction is rolled back) and waits for it. */
  async close(): Promise<void> {
    this.input.end();
    await this.done.catch(() => undefined);
  }

  private take(text: string): void {
    this.buffer += text;
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (this.waiting !== undefined && line === this.waiting.marker) {
        const { resolve } = this.waiting;
        const out = this.lines;
        this.lines = [];
        this.waiting = undefined;
        resolve(out);
      } else {
        this.lines.push(line);
      }
      nl = this.buffer.indexOf('\n');
    }
  }

  private finish(how: { result?: ContainerExecResult; error?: Error }): void {
    this.ended = how;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(this.endError());
  }

  private endError(): Error {
    const how = this.ended;
    if (how?.error !== undefined) return how.error;
    const stderr = how?.result?.stderr.trim() ?? '';
    return new AgentError('DatabaseQueryFailed', `psql ended: ${stderr === '' ? 'no error output' : stderr}`, {
      data: { exitCode: how?.result?.exitCode },
    });
  }
}
