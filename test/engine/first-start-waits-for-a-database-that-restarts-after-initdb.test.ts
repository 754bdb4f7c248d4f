import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DesiredState } from '../../agent/core/desired.ts';
import { containersOf, makeStack, withDemoCommands, type Stack } from '../../devenv/engine-stack.ts';

// PostgreSQL's entrypoint runs initdb's scripts against a temporary server that listens on the
// socket only, then restarts it. pg_isready (the demo's health check) passes against that
// temporary server; a script that takes a while there makes the window wide enough to hit.
let s: Stack;
let initDir: string;
before(async () => {
  s = await makeStack('rc-initdb-restart', { seedSchema: false });
  initDir = path.join(path.dirname(s.stateDir), 'slow-init');
  await mkdir(initDir, { recursive: true });
  await writeFile(path.join(initDir, '50-slow.sh'), 'echo "slow init script"; sleep 8\n', { mode: 0o644 });
});
after(async () => {
  await s.cleanup();
});

test('the first start migrates only once the database answers a real query, not on pg_isready alone', async () => {
  const desired = withSocketHealthcheck(withDemoCommands(s.desired({ initDir })));
  const result = await s.apply(desired);
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.applied, true);
  assert.deepEqual(await containersOf(s.env, s.owner), [`${s.owner}-postgres running`, `${s.owner}-web running`]);
  assert.deepEqual(await s.webRoot(), { version: 'v1', rows: 0 });
  const waited = s.logLines.some((l) => l.includes('"msg":"the database does not answer queries yet'));
  assert.ok(waited, 'the agent saw the temporary initdb server and waited for the real one');
});

/** The example app's check: pg_isready on the local socket, where the temporary server listens too. */
function withSocketHealthcheck(d: DesiredState): DesiredState {
  const services = d.app.services.map((sv) =>
    sv.role === 'database' && sv.healthcheck !== undefined
      ? { ...sv, healthcheck: { ...sv.healthcheck, cmd: ['pg_isready', '-q', '-U', 'demo', '-d', 'demo'] } }
      : sv,
  );
  return { ...d, app: { ...d.app, services } };
}
