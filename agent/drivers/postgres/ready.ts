import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredDatabase } from '../../core/desired.ts';
import { AgentError } from '../../core/errors.ts';
import type { Log } from '../../core/log.ts';
import type { DockerClient } from '../docker/client.ts';
import { execInContainer } from '../docker/container-exec.ts';
import { PSQL_FLAGS } from './psql-session.ts';

/**
 * Waits until the database container answers a real query over TCP with the app's own user
 * and password: pg_isready on the socket also passes against the temporary server initdb
 * scripts run on (socket only), which then restarts. Fails with `DatabaseNotReady`, which is
 * transient: the agent retries the revision later.
 */
export async function waitDatabaseReady(
  docker: DockerClient,
  container: string,
  db: DesiredDatabase,
  log: Log,
  options: { budgetMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const deadline = Date.now() + (options.budgetMs ?? 120_000);
  // The password goes through the exec's environment, never argv.
  const target = { docker, container, env: [`PGPASSWORD=${db.password.value}`, 'PGHOST=127.0.0.1'] };
  const cmd = ['psql', ...PSQL_FLAGS, '-U', db.user, '-d', db.name, '-c', 'SELECT 1'];
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    const r = await execInContainer(target, cmd, { timeoutMs: 10_000 });
    if (r.exitCode === 0 && r.stdout.trim() === '1') return;
    const why = r.stderr.trim().split('\n')[0] ?? `psql exited ${r.exitCode}`;
    if (Date.now() >= deadline) {
      throw new AgentError('DatabaseNotReady', `${container} does not answer queries: ${why}`, {
        data: { container, exitCode: r.exitCode },
      });
    }
    if (!told) log.info({ container, reason: why }, 'the database does not answer queries yet; waiting');
    told = true;
    await sleep(500, undefined, options.signal === undefined ? {} : { signal: options.signal });
  }
}
