import { AgentError } from './errors.ts';
import { DATA_CHANGING, type Action } from './steps.ts';

/** Failures of a migration: the same revision would fail the same way. */
const MIGRATION = new Set(['MigrationFailed', 'ReverseMigrationIncomplete', 'DowngradeNeedsReverseMigration']);
/** Failures of a container to run healthy: they judge a version new to this machine. */
const UNHEALTHY = new Set(['HealthCheckFailed', 'ContainerStartFailed']);

/** What an undone apply had done, as far as the failure message tells the operator. */
export interface FailedApply {
  /** Whether the steps replaced the app's image (an update, not a first start or a restart). */
  bumpsApp: boolean;
  /** Whether some app container of the previous version ran before the apply. */
  ranBefore: boolean;
  changeSet: readonly { action: Action; outcome: string }[];
}

/**
 * Decides whether a failed, undone apply stalls its revision. Only a failure that judges the
 * new version (unhealthy, failed migration) or that had changed the data (the snapshot was
 * restored) is terminal; anything else (a database still starting, an engine hiccup) is
 * transient and retried with backoff. The message says what was actually put back.
 */
export function classifyFailedApply(err: AgentError, applied: FailedApply): AgentError {
  if (err.terminal) return err;
  const snapshotTaken = applied.changeSet.some((c) => c.action === 'snapshot.create' && c.outcome !== 'not-run');
  const restored =
    err.data['restored'] === true ||
    (snapshotTaken && applied.changeSet.some((c) => DATA_CHANGING.includes(c.action) && c.outcome === 'reverted'));
  const judged = MIGRATION.has(err.code) || (UNHEALTHY.has(err.code) && (applied.bumpsApp || !applied.ranBefore));
  if (!restored && !judged) return err;
  const parts = [
    ...(restored ? ['the database and files were restored from the PRE_MIGRATE snapshot'] : []),
    applied.ranBefore ? 'the previous version was started again' : 'nothing ran before, so nothing was started',
  ];
  return new AgentError(err.code, `${err.message} — update rolled back: ${parts.join('; ')}`, {
    terminal: true,
    data: err.data,
    cause: err,
  });
}
