import { describeError, isAgentError } from '../core/errors.ts';
import type { Logger } from '../lib/log.ts';

export interface ReportQueueOptions<T> {
  /** What is reported, for logs ("commit status", "status ref"). */
  what: string;
  log: Logger;
  send: (item: T) => Promise<void>;
  /** The slot an item fills: a newer item for the same slot replaces a waiting one. */
  slotOf: (item: T) => string;
  /** What makes an item different from the last one sent for its slot; equal → not sent again. */
  fingerprintOf: (item: T) => string;
  /** First retry delay, doubled per failure up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
}

/**
 * Reports sent beside the loop, never in it: `push` returns at once; one worker sends in order,
 * skips what equals the last report sent for its slot, and retries a failure with backoff
 * (jittered) until it goes through or a newer report replaces it. A failure is logged once
 * per report and error code, then only at debug.
 */
export class ReportQueue<T> {
  private readonly waiting = new Map<string, T>();
  private readonly sent = new Map<string, string>();
  private readonly logged = new Set<string>();
  private worker: Promise<void> | undefined;
  private timer: { handle: NodeJS.Timeout; wake: () => void } | undefined;
  private stopped = false;
  private failures = 0;

  constructor(private readonly options: ReportQueueOptions<T>) {}

  push(item: T): void {
    if (this.stopped) return;
    const slot = this.options.slotOf(item);
    if (this.sent.get(slot) === this.options.fingerprintOf(item) && !this.waiting.has(slot)) return;
    this.waiting.delete(slot);
    this.waiting.set(slot, item);
    this.worker ??= this.work().finally(() => {
      this.worker = undefined;
    });
  }

  /** Resolves once nothing waits (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.worker !== undefined) await this.worker;
  }

  /**
   * Resolves once nothing waits or the worker waits to retry a failure: what could be sent
   * now has been (shutdown, `--once`).
   */
  async settled(): Promise<void> {
    while (this.worker !== undefined && this.timer === undefined) {
      await Promise.race([this.worker, new Promise((resolve) => setTimeout(resolve, 20))]);
    }
  }

  /** Drops what waits and ends the worker (a waiting retry ends at once). */
  stop(): void {
    this.stopped = true;
    this.waiting.clear();
    if (this.timer !== undefined) {
      clearTimeout(this.timer.handle);
      this.timer.wake();
    }
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const next = this.waiting.entries().next();
      if (next.done === true) return;
      const [slot, item] = next.value;
      const fingerprint = this.options.fingerprintOf(item);
      if (this.sent.get(slot) === fingerprint) {
        this.waiting.delete(slot);
        continue;
      }
      try {
        await this.options.send(item);
        if (this.waiting.get(slot) === item) this.waiting.delete(slot);
        this.sent.set(slot, fingerprint);
        this.failures = 0;
        this.options.log.debug({ slot }, `${this.options.what} sent`);
      } catch (err) {
        this.failures++;
        const code = isAgentError(err) ? err.code : 'InternalError';
        const event = `${slot}\n${fingerprint}\n${code}`;
        const fields = { slot, code, err: describeError(err), attempt: this.failures };
        if (this.logged.has(event)) this.options.log.debug(fields, `${this.options.what} still failing; retrying`);
        else {
          this.logged.add(event);
          this.options.log.warn(
            fields,
            `${this.options.what} failed; retrying with backoff (the loop is not affected)`,
          );
        }
        await this.sleep(this.delay());
      }
    }
  }

  private delay(): number {
    const base = this.options.baseDelayMs ?? 5_000;
    const max = this.options.maxDelayMs ?? 300_000;
    const d = Math.min(max, base * 2 ** Math.min(this.failures - 1, 20));
    return Math.round(d * (0.5 + (this.options.random ?? Math.random)() / 2));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.timer = undefined;
        resolve();
      };
      const handle = setTimeout(wake, ms);
      handle.unref();
      this.timer = { handle, wake };
    });
  }
}
