import type { CloneStatus } from './clone.ts';
/**
 * The agent's status as a pure state machine, after Flux's conditions: `Ready`, `Reconciling`
 * and `Stalled` with PascalCase reasons. The last attempted revision is kept apart from the
 * last applied one, so a failed commit never hides what is actually running.
 */

import type { BackupView } from './backup-status.ts';
import { certificateExpiring, type CertificateInfo } from './certificate-status.ts';
import type { PreflightView } from './preflight.ts';

export type ConditionType = 'Ready' | 'Reconciling' | 'Stalled' | 'BackupMissed' | 'CertificateExpiring';

export interface Condition {
  type: ConditionType;
  status: boolean;
  /** PascalCase, stable: match on it. */
  reason: string;
  message: string;
  /** ISO time of the last change of `status`. */
  since: string;
}

/** How one cycle ended. `configNotices`: the warnings of the revision's config, when it was loaded. */
export type CycleOutcome = (
  | { kind: 'applied'; revision: string; steps: number; plan?: unknown; notices?: Notice[] }
  | { kind: 'unchanged'; revision: string }
  | {
      kind: 'stalled';
      revision?: string;
      reason: string;
      message: string;
      code: string;
      /** The revision was applied and runs, but stalls (kept unhealthy by the rollback policy). */
      applied?: boolean;
      /** What the operator must know about the stall (e.g. what a snapshot restore would lose). */
      notices?: Notice[];
    }
  | { kind: 'failed'; revision?: string; reason: string; message: string; code: string }
) & { configNotices?: Notice[] };

/** Something an operator must know about an apply, e.g. data lost by a snapshot restore. */
export interface Notice {
  code: string;
  message: string;
}

export interface CycleRecord {
  revision?: string;
  startedAt: string;
  finishedAt: string;
  outcome: CycleOutcome['kind'];
  steps?: number;
  notices?: Notice[];
  reason?: string;
  message?: string;
}

export interface AgentStatus {
  appliance: string;
  lastAttemptedRevision?: string;
  lastAppliedRevision?: string;
  lastAppliedAt?: string;
  /** The revision a terminal error stalled on: not retried until the branch moves. */
  stalledRevision?: string;
  conditions: Condition[];
  /** The plan of the last cycle that had one (secret-free, as rendered). */
  lastPlan?: unknown;
  /** Notices of the last apply that changed something (kept until the next such apply). */
  notices?: Notice[];
  /** Warnings of the last loaded revision's config, e.g. settings the agent does not support yet. */
  configNotices?: Notice[];
  lastError?: { code: string; reason: string; message: string; at: string; revision?: string };
  /** Most recent first. */
  history: CycleRecord[];
  /** Counters for /metrics. */
  cycles: Record<CycleOutcome['kind'], number>;
  lastCycleSeconds?: number;
  lastCycleFinishedAt?: string;
  /** Backups (served in /status; not part of the persisted loop status). */
  backup?: BackupView;
  /** Pre-flights of review heads, newest first (served in /status from the pre-flight state file). */
  preflight?: PreflightView[];
  /** The ingress's TLS certificates (served in /status; read from its storage on each request). */
  certificates?: CertificateInfo[];
  /** Standing warnings about the agent's own configuration, e.g. unsigned commits allowed (served in /status). */
  warnings?: Notice[];
  /** Clones of the appliance: name, host, times, state and why (served in /status). */
  clones?: CloneStatus[];
}

const HISTORY = 20;

export function initialStatus(appliance: string, now: Date): AgentStatus {
  const since = now.toISOString();
  return {
    appliance,
    conditions: [
      { type: 'Ready', status: false, reason: 'Starting', message: 'no cycle has run yet', since },
      { type: 'Reconciling', status: false, reason: 'Idle', message: '', since },
      { type: 'Stalled', status: false, reason: 'Idle', message: '', since },
    ],
    history: [],
    cycles: { applied: 0, unchanged: 0, stalled: 0, failed: 0 },
  };
}

/** The status while a cycle runs. */
export function cycleStarted(status: AgentStatus, trigger: string, now: Date): AgentStatus {
  return {
    ...status,
    conditions: setCondition(status.conditions, 'Reconciling', true, 'Progressing', `cycle started (${trigger})`, now),
  };
}

/** The status after a cycle, whatever happened (written in a `finally`). */
export function cycleFinished(status: AgentStatus, outcome: CycleOutcome, startedAt: Date, now: Date): AgentStatus {
  const at = now.toISOString();
  let conditions = setCondition(status.conditions, 'Reconciling', false, 'Idle', '', now);
  const next: AgentStatus = {
    ...status,
    cycles: { ...status.cycles, [outcome.kind]: status.cycles[outcome.kind] + 1 },
    lastCycleSeconds: (now.getTime() - startedAt.getTime()) / 1000,
    lastCycleFinishedAt: at,
  };
  if (outcome.revision !== undefined) next.lastAttemptedRevision = outcome.revision;
  if (outcome.configNotices !== undefined) {
    if (outcome.configNotices.length > 0) next.configNotices = outcome.configNotices;
    else delete next.configNotices;
  }
  switch (outcome.kind) {
    case 'applied':
    case 'unchanged': {
      next.lastAppliedRevision = outcome.revision;
      if (outcome.kind === 'applied' || status.lastAppliedAt === undefined) next.lastAppliedAt = at;
      if (outcome.kind === 'applied' && outcome.plan !== undefined) next.lastPlan = outcome.plan;
      if (outcome.kind === 'applied') next.notices = outcome.notices ?? [];
      delete next.stalledRevision;
      delete next.lastError;
      const message = `revision ${short(outcome.revision)} applied`;
      conditions = setCondition(conditions, 'Ready', true, 'Succeeded', message, now);
      conditions = setCondition(conditions, 'Stalled', false, 'Idle', '', now);
      break;
    }
    case 'stalled':
    case 'failed': {
      next.lastError = { code: outcome.code, reason: outcome.reason, message: outcome.message, at };
      if (outcome.revision !== undefined) next.lastError.revision = outcome.revision;
      const stalled = outcome.kind === 'stalled';
      if (stalled && outcome.revision !== undefined) next.stalledRevision = outcome.revision;
      if (outcome.kind === 'stalled' && outcome.notices !== undefined) next.notices = outcome.notices;
      if (outcome.kind === 'stalled' && outcome.applied === true && outcome.revision !== undefined) {
        next.lastAppliedRevision = outcome.revision;
        next.lastAppliedAt = at;
      }
      conditions = setCondition(conditions, 'Ready', false, outcome.reason, outcome.message, now);
      conditions = setCondition(
        conditions,
        'Stalled',
        stalled,
        stalled ? outcome.reason : 'Idle',
        stalled ? outcome.message : '',
        now,
      );
      break;
    }
  }
  next.conditions = conditions;
  const record: CycleRecord = { startedAt: startedAt.toISOString(), finishedAt: at, outcome: outcome.kind };
  if (outcome.revision !== undefined) record.revision = outcome.revision;
  if (outcome.kind === 'applied') record.steps = outcome.steps;
  const notices = outcome.kind === 'applied' || outcome.kind === 'stalled' ? (outcome.notices ?? []) : [];
  if (notices.length > 0) record.notices = notices;
  if (outcome.kind === 'stalled' || outcome.kind === 'failed') {
    record.reason = outcome.reason;
    record.message = outcome.message;
  }
  next.history = [record, ...status.history].slice(0, HISTORY);
  return next;
}

/**
 * While an interrupted apply is recovered the app may be down: Ready must not keep saying
 * Succeeded from before the crash. The cycle's end sets it again.
 */
export function recoveryStarted(status: AgentStatus, revision: string, now: Date): AgentStatus {
  const message = `an interrupted apply of ${short(revision)} is being recovered; the app may be down meanwhile`;
  return { ...status, conditions: setCondition(status.conditions, 'Ready', false, 'Recovering', message, now) };
}

export function condition(status: AgentStatus, type: ConditionType): Condition | undefined {
  return status.conditions.find((c) => c.type === type);
}

function setCondition(
  conditions: readonly Condition[],
  type: ConditionType,
  value: boolean,
  reason: string,
  message: string,
  now: Date,
): Condition[] {
  return conditions.map((c) =>
    c.type !== type
      ? c
      : { type, status: value, reason, message, since: c.status === value ? c.since : now.toISOString() },
  );
}

function short(revision: string): string {
  return revision.slice(0, 12);
}

/** The status with the agent's standing configuration warnings (none: unchanged). */
export function withWarnings(status: AgentStatus, warnings: readonly Notice[]): AgentStatus {
  return warnings.length === 0 ? status : { ...status, warnings: [...warnings] };
}

/** The status with the appliance's clones (none: unchanged). */
export function withClones(status: AgentStatus, clones: readonly CloneStatus[]): AgentStatus {
  return clones.length === 0 ? status : { ...status, clones: [...clones] };
}

/** The status as served: the loop's, plus backups with their `BackupMissed` condition. */
export function withBackup(status: AgentStatus, view: BackupView | undefined): AgentStatus {
  if (view === undefined) return status;
  return {
    ...status,
    conditions: [...status.conditions.filter((c) => c.type !== 'BackupMissed'), view.condition],
    backup: view,
  };
}

/** The status as served with the ingress's certificates and their `CertificateExpiring` condition. */
export function withCertificates(
  status: AgentStatus,
  certs: readonly CertificateInfo[] | undefined,
  now: Date,
): AgentStatus {
  if (certs === undefined) return status;
  return {
    ...status,
    conditions: [...status.conditions.filter((c) => c.type !== 'CertificateExpiring'), certificateExpiring(certs, now)],
    certificates: [...certs],
  };
}
