import http from 'node:http';
import https from 'node:https';

/**
 * `scripts/watch-app.sh URL VERSION`: polls the demo app every 100 ms and prints each change of
 * what it answers (version and rows, the ingress's service page and its reason, or that nothing
 * answers), and how long the app was away, until it answers with VERSION. A person sees the
 * update happen. An HTTPS URL is not verified: the watcher only reads what is shown (the demo
 * prints a `curl --cacert` that verifies).
 */
const [url, until] = process.argv.slice(2);
if (url === undefined || until === undefined) {
  process.stderr.write('usage: watch-app.sh URL VERSION (e.g. https://localhost:8443/ v2)\n');
  process.exit(64);
}
const started = Date.now();
const deadline = started + Number(process.env['WATCH_TIMEOUT_SECONDS'] ?? 600) * 1000;
const say = (text: string): void => {
  process.stdout.write(`[watch ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}\n`);
};

let last = '';
let awaySince: number | undefined;
for (;;) {
  const answer = await get(url);
  const seen = answer.ok ? `${answer.version}, ${answer.rows} rows` : answer.why;
  if (seen !== last) {
    if (!answer.ok && awaySince === undefined) awaySince = Date.now();
    const away =
      answer.ok && awaySince !== undefined
        ? ` (the app was away for ${((Date.now() - awaySince) / 1000).toFixed(1)} s)`
        : '';
    if (answer.ok) awaySince = undefined;
    say(`${seen}${away}`);
    last = seen;
  }
  if (answer.ok && answer.version === until) break;
  if (Date.now() > deadline) {
    say(`gave up waiting for ${until}`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}

type Answer = { ok: true; version: string; rows: number } | { ok: false; why: string };

function get(target: string): Promise<Answer> {
  return new Promise((resolve) => {
    const options = target.startsWith('https:') ? { rejectUnauthorized: false } : {};
    const req = (target.startsWith('https:') ? https : http).get(target, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const json = JSON.parse(body) as { version?: string; rows?: number };
          if (res.statusCode === 200 && typeof json.version === 'string' && typeof json.rows === 'number') {
            resolve({ ok: true, version: json.version, rows: json.rows });
            return;
          }
        } catch {
          // not the app's JSON: below
        }
        const reason = /<p id="reason">([^<]*)<\/p>/.exec(body)?.[1];
        resolve({
          ok: false,
          why:
            reason === undefined
              ? `HTTP ${res.statusCode ?? '?'}`
              : `service page (${res.statusCode ?? '?'}): ${reason}`,
        });
      });
    });
    req.setTimeout(2000, () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      resolve({ ok: false, why: `not answering: ${err.message}` });
    });
  });
}
