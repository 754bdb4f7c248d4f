import type { ErrorCode } from './error-codes.ts';

export type { ErrorCode } from './error-codes.ts';

/**
 * The agent's error shape: a stable `code` to match on (never the message), whether
 * retrying can help (`terminal`), structured `data` safe to log, and the `cause`.
 */
export interface AgentErrorOptions {
  /** True when retrying without a new input (commit, config, key) cannot succeed. */
  terminal?: boolean;
  /** Structured, secret-free details (file, path, commit, …). */
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly terminal: boolean;
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.terminal = options.terminal ?? false;
    this.data = options.data ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; terminal: boolean; data: Record<string, unknown> } {
    return { code: this.code, message: this.message, terminal: this.terminal, data: this.data };
  }
}

/** True when `err` is an AgentError, optionally with the given code. */
export function isAgentError(err: unknown, code?: ErrorCode): err is AgentError {
  return err instanceof AgentError && (code === undefined || err.code === code);
}

/** A short, secret-free description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
