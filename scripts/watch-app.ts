import http from 'node:http';

/**
 * `scripts/watch-app.sh URL VERSION`: polls the demo app every 100 ms and prints each change of
 * what it answers (version and rows, or that it does not answer, and for how long), until it
 * answers with VERSION. A person sees the update happen and how long the app was away.
 */
const [url, until] = process.argv.slice(2);
if (url === undefined || until === undefined) {
  process.stderr.write('usage: watch-app.sh URL VERSION (e.g. http://127.0.0.1:8080/ v2)\n');
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
  const seen = answer.ok ? `${answer.version}, ${answer.rows} rows` : 'not answering';
  if (seen !== last) {
    if (!answer.ok && awaySince === undefined) awaySince = Date.now();
    const away =
      answer.ok && awaySince !== undefined
        ? ` (it did not answer for ${((Date.now() - awaySince) / 1000).toFixed(1)} s)`
        : '';
    if (answer.ok) awaySince = undefined;
    say(`${seen}${answer.ok ? '' : `: ${answer.why}`}${away}`);
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
    const req = http.get(target, (res) => {
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
        resolve({ ok: false, why: `HTTP ${res.statusCode ?? '?'}` });
      });
    });
    req.setTimeout(2000, () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      resolve({ ok: false, why: err.message });
    });
  });
}
