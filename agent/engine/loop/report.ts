import { isAgentError, type AgentError } from '../../core/errors.ts';
import { planJson } from '../../core/plan-render.ts';
import type { CycleOutcome } from '../../core/status.ts';
import type { ApplyResult } from './converge.ts';

/** A cycle's outcome from a converge pass: applied, unchanged, stalled or failed. */
export function outcomeOf(result: ApplyResult): CycleOutcome {
  if (result.unhealthy !== undefined) {
    // The revision is running (kept by the rollback policy), but not healthy: it stalls.
    const { code, message } = result.unhealthy;
    const notices = result.notices.length > 0 ? { notices: result.notices } : {};
    return { kind: 'stalled', revision: result.revision, reason: code, code, message, applied: true, ...notices };
  }
  if (result.applied) {
    if (result.changeSet.length === 0) return { kind: 'unchanged', revision: result.revision };
    return {
      kind: 'applied',
      revision: result.revision,
      steps: result.changeSet.length,
      plan: JSON.parse(planJson(result.plan)) as unknown,
      notices: result.notices,
    };
  }
  const error = result.error ?? { code: 'NotConverged', message: 'the machine did not converge', terminal: false };
  const base = { revision: result.revision, reason: error.code, code: error.code, message: error.message };
  if (!error.terminal) return { kind: 'failed', ...base };
  return { kind: 'stalled', ...base, ...(result.notices.length > 0 ? { notices: result.notices } : {}) };
}

/**
 * A thrown error as an outcome: terminal AgentErrors stall, everything else is transient. The
 * outcome names the revision the error is about (a source's refusal: the commit it refused).
 */
export function outcomeOfError(err: unknown): CycleOutcome {
  if (!isAgentError(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return { kind: 'failed', reason: 'InternalError', code: 'InternalError', message };
  }
  const base = { reason: err.code, code: err.code, message: err.message };
  const kind = err.terminal ? 'stalled' : 'failed';
  const revision = revisionOf(err);
  return revision === undefined ? { kind, ...base } : { kind, revision, ...base };
}

export function stalledOutcome(revision: string, code: string, message: string): CycleOutcome {
  return { kind: 'stalled', revision, reason: code, code, message };
}

/** The revision an error is about; for a source's refusal (signature, rewind), the refused commit. */
function revisionOf(err: AgentError): string | undefined {
  const commit = err.data['revision'] ?? err.data['commit'] ?? err.data['to'];
  return typeof commit === 'string' ? commit : undefined;
}
