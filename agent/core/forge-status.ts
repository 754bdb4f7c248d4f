import type { CycleOutcome } from './status.ts';

/** The commit status a cycle's outcome means; undefined when the outcome names no commit. */
export interface OutcomeStatus {
  sha: string;
  state: 'success' | 'failure' | 'error';
  description: string;
}

/**
 * Applied or in sync → success; a stall (invalid config, refused commit, unhealthy version,
 * refused downgrade) → failure; a transient failure → error. The description is the outcome's
 * reason and message (already secret-free, as in /status).
 */
export function outcomeStatus(outcome: CycleOutcome): OutcomeStatus | undefined {
  if (outcome.revision === undefined || !/^[0-9a-f]{40}$/.test(outcome.revision)) return undefined;
  const sha = outcome.revision;
  switch (outcome.kind) {
    case 'applied':
    case 'unchanged':
      return { sha, state: 'success', description: 'Applied: the appliance runs this revision' };
    case 'stalled':
      return { sha, state: 'failure', description: `${outcome.reason}: ${outcome.message}` };
    case 'failed':
      return { sha, state: 'error', description: `${outcome.reason}: ${outcome.message}` };
  }
}
