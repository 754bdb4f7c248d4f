/**
 * The logging the core's contracts need (executors, recoverers, drivers). pino's Logger fits
 * it; core does not import pino, so the contract stays a plain type.
 */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface Log {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Log;
}
