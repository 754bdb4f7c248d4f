import path from 'node:path';
import type { DesiredState } from '../agent/core/desired.ts';
import { makeStack } from '../devenv/engine-stack.ts';
import { withIngress } from '../devenv/ingress-builder.ts';
import { keepAliveLoop, requestLoop, type LoopResult } from '../devenv/request-loop.ts';
import { target } from './lib/targets.ts';

const ports = { http: 18780, https: 18743 };
const host = 'localhost';

/**
 * Failed requests while the agent applies non-migrating updates of the demo app (an env change:
 * web starts beside the old one, is gated, the ingress switches), through the agent's real apply
 * and Caddy: a loop of POSTs on fresh connections, one of GETs on an HTTP/1.1 keep-alive
 * connection and one on an HTTP/2 session, `updates` times.
 */
export async function updateFailures(updates: number): Promise<void> {
  const s = await makeStack('bench-ingress-update');
  const demo = (banner: string): DesiredState =>
    withIngress(s.desired({ webEnv: { DEMO_BANNER: banner } }), {
      image: s.env.images['caddy:2.6'] ?? '',
      dataPath: path.join(s.stateDir, '..', 'data'),
      ports,
    });
  try {
    const first = await s.apply(demo('u0'));
    if (!first.applied) throw new Error(`first apply failed: ${JSON.stringify(first.error)}`);
    const url = `https://127.0.0.1:${ports.https}`;
    const seen = { fresh: [] as LoopResult[], h1: [] as LoopResult[], h2: [] as LoopResult[] };
    let seconds = 0;
    for (let i = 1; i <= updates; i++) {
      const loops = {
        fresh: requestLoop(`${url}/rows`, { method: 'POST', servername: host }),
        h1: keepAliveLoop(`${url}/`, { servername: host }),
        h2: keepAliveLoop(`${url}/`, { servername: host, http2: true }),
      };
      const start = performance.now();
      const result = await s.apply(demo(`u${i}`));
      seconds += (performance.now() - start) / 1000;
      if (!result.applied) throw new Error(`update ${i} failed: ${JSON.stringify(result.error)}`);
      await new Promise((r) => setTimeout(r, 500));
      seen.fresh.push(...(await loops.fresh.stop()));
      seen.h1.push(...(await loops.h1.stop()));
      seen.h2.push(...(await loops.h2.stop()));
    }
    const failed = (rs: readonly LoopResult[], ok: number): LoopResult[] =>
      rs.filter((r) => !('answer' in r) || r.answer.status !== ok);
    console.log(`\n${updates} non-migrating updates (env change; ${(seconds / updates).toFixed(1)} s each):`);
    const rows: [string, LoopResult[], number][] = [
      ['POST, a new connection each', seen.fresh, 201],
      ['GET, HTTP/1.1 keep-alive', seen.h1, 200],
      ['GET, HTTP/2 (one session)', seen.h2, 200],
    ];
    for (const [what, rs, ok] of rows) {
      const bad = failed(rs, ok);
      const why = [...new Set(bad.map((r) => ('error' in r ? r.error : String(r.answer.status))))].join('; ');
      console.log(`  ${what.padEnd(30)} ${rs.length} requests, ${bad.length} failed${why === '' ? '' : ` (${why})`}`);
    }
    const total = rows.reduce((n, [, rs, ok]) => n + failed(rs, ok).length, 0);
    target('failed requests during a non-migrating update', String(total), '0', total === 0);
  } finally {
    await s.cleanup();
  }
}
