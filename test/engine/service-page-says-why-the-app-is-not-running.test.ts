import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServicePage } from '../../agent/engine/service-page.ts';
import { createLogger } from '../../agent/lib/log.ts';

test('the service page says "no configuration", escapes the reason, and /status gives the code', async () => {
  const log = createLogger({ level: 'silent' });
  const page = await startServicePage(
    { code: 'NoConfiguration', reason: 'no configuration: no seed <script>' },
    { listen: '127.0.0.1:0', log },
  );
  try {
    const res = await fetch(page.url);
    assert.equal(res.status, 503);
    const html = await res.text();
    assert.match(html, /<h1>appliance: no configuration<\/h1>/);
    assert.match(html, /no seed &#60;script&#62;/);
    const status = (await (await fetch(new URL('/status', page.url))).json()) as Record<string, unknown>;
    assert.deepEqual(status, {
      mode: 'service',
      code: 'NoConfiguration',
      reason: 'no configuration: no seed <script>',
    });
  } finally {
    await page.close();
  }
});
