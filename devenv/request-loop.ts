import http2 from 'node:http2';
import https from 'node:https';
import { httpRequest, type HttpAnswer } from './docker-env.ts';

/** One request of a loop: its answer, or the error that stood in for one (a connection failure). */
export type LoopResult =
  | {
      at: number;
      answer: HttpAnswer;
      /** Sent again after the server refused the stream unprocessed. */
      refused?: true;
    }
  | { at: number; error: string };

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
  // An empty body said as such: a chunked one the app does not read can be reset on close.
  const length = options.method === 'POST' ? { 'Content-Length': '0' } : {};
  return loop(options, () =>
    httpRequest(url, {
      method: options.method ?? 'GET',
      timeoutMs: 15_000,
      headers: { ...length, ...(options.servername === undefined ? {} : { Host: options.servername }) },
      ...(options.servername === undefined ? {} : { tls: { servername: options.servername } }),
    }),
  );
}

/** Sends `send()` one after another, `pauseMs` apart, until stopped or `max` were sent. */
function loop(
  options: { pauseMs?: number; max?: number },
  send: () => Promise<HttpAnswer & { refused?: true }>,
  close?: () => void,
): RequestLoop {
  const results: LoopResult[] = [];
  const state = { stopped: false };
  const max = options.max ?? 5_000;
  const run = (async (): Promise<void> => {
    while (!state.stopped && results.length < max) {
      const at = Date.now();
      try {
        const { refused, ...answer } = await send();
        results.push({ at, answer, ...(refused === undefined ? {} : { refused }) });
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
      close?.();
      return results;
    },
  };
}

/**
 * Like requestLoop, but over one kept-alive connection at a time, as browsers and API clients
 * do: HTTP/1.1 with a keep-alive agent, or one HTTP/2 session (opened again when the server
 * closes it). A request on a connection the server closed counts as a failure: no retry.
 */
export function keepAliveLoop(
  url: string,
  options: { servername: string; http2?: boolean; pauseMs?: number; max?: number },
): RequestLoop {
  const target = new URL(url);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  let session: http2.ClientHttp2Session | undefined;
  const h1 = (): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { agent, servername: options.servername, headers: { Host: options.servername } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
        },
      );
      req.setTimeout(15_000, () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  const h2once = (): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      if (session === undefined || session.closed || session.destroyed) {
        session = http2.connect(target.origin, { servername: options.servername, rejectUnauthorized: false });
        session.on('error', () => undefined);
      }
      const req = session.request({ ':path': target.pathname, ':authority': options.servername });
      const chunks: Buffer[] = [];
      let status = 0;
      let headers: Record<string, unknown> = {};
      req.on('response', (h) => {
        status = Number(h[':status']);
        headers = h;
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        resolve({ status, headers: headers as HttpAnswer['headers'], body: Buffer.concat(chunks) });
      });
      req.setTimeout(15_000, () => {
        req.close(http2.constants.NGHTTP2_CANCEL);
      });
      req.on('error', reject);
      req.end();
    });
  // A stream sent as the server's GOAWAY (a Caddy reload) crossed it is refused unprocessed:
  // HTTP/2 clients send it again on a new connection (RFC 9113 §8.7), as browsers do.
  const h2 = async (): Promise<HttpAnswer & { refused?: true }> => {
    try {
      return await h2once();
    } catch (err) {
      if (!/NGHTTP2_REFUSED_STREAM/.test((err as Error).message)) throw err;
      session?.close();
      session = undefined;
      return { ...(await h2once()), refused: true };
    }
  };
  return loop(
    options,
    () => (options.http2 === true ? h2() : h1()),
    () => {
      agent.destroy();
      session?.close();
    },
  );
}
