import { httpRequest, type HttpAnswer } from './docker-env.ts';

/** One request of a loop: its answer, or the error that stood in for one (a connection failure). */
export type LoopResult = { at: number; answer: HttpAnswer } | { at: number; error: string };

/** Requests sent one after another until stopped (at most `max`), as users would during an update. */
export interface RequestLoop {
  stop(): Promise<LoopResult[]>;
}

/**
 * Sends `method url` in a loop (with `servername` as Host and SNI), each request after the previous one ended, with `pauseMs`
 * between; bounded by `max` requests so a test cannot flood the machine.
 */
export function requestLoop(
  url: string,
  options: { method?: string; servername?: string; pauseMs?: number; max?: number } = {},
): RequestLoop {
  const results: LoopResult[] = [];
  const state = { stopped: false };
  const max = options.max ?? 5_000;
  const run = (async (): Promise<void> => {
    while (!state.stopped && results.length < max) {
      const at = Date.now();
      try {
        // An empty body said as such: a chunked one the app does not read can be reset on close.
        const length = options.method === 'POST' ? { 'Content-Length': '0' } : {};
        const answer = await httpRequest(url, {
          method: options.method ?? 'GET',
          timeoutMs: 15_000,
          headers: { ...length, ...(options.servername === undefined ? {} : { Host: options.servername }) },
          ...(options.servername === undefined ? {} : { tls: { servername: options.servername } }),
        });
        results.push({ at, answer });
      } catch (err) {
        results.push({ at, error: (err as Error).message });
      }
      await new Promise((r) => setTimeout(r, options.pauseMs ?? 20));
    }
  })();
  return {
    async stop() {
      state.stopped = true;
      await run;
      return results;
    },
  };
}
