import { backupMetrics } from '../core/backup-status.ts';
import { certificateMetrics } from '../core/certificate-status.ts';
import type { AgentStatus } from '../core/status.ts';

/** Process memory, as `process.memoryUsage()` reports it. */
export interface ProcessMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** The status (and the process's memory) in Prometheus text exposition format (0.0.4). */
export function renderMetrics(status: AgentStatus, now: Date, memory?: ProcessMemory): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const app = `appliance="${escapeLabel(status.appliance)}"`;
  metric(
    'appliance_reconcile_cycles_total',
    'counter',
    'Reconcile cycles by outcome.',
    Object.entries(status.cycles).map(([outcome, n]) => [`{${app},outcome="${outcome}"}`, n]),
  );
  metric(
    'appliance_condition',
    'gauge',
    'Status conditions (1 = true); the reason is in appliance_condition_reason_info.',
    status.conditions.map((c) => [`{${app},type="${c.type}"}`, c.status ? 1 : 0]),
  );
  // Apart from the condition, so that a new reason does not start a new condition series.
  metric(
    'appliance_condition_reason_info',
    'gauge',
    'The current reason of each status condition (always 1).',
    status.conditions.map((c) => [`{${app},type="${c.type}",reason="${escapeLabel(c.reason)}"}`, 1]),
  );
  if (status.lastCycleSeconds !== undefined) {
    metric('appliance_reconcile_duration_seconds', 'gauge', 'Duration of the last cycle.', [
      [`{${app}}`, status.lastCycleSeconds],
    ]);
  }
  if (status.lastAppliedAt !== undefined) {
    metric('appliance_last_applied_timestamp_seconds', 'gauge', 'When a revision was last applied or confirmed.', [
      [`{${app}}`, Date.parse(status.lastAppliedAt) / 1000],
    ]);
  }
  if (status.lastCycleFinishedAt !== undefined) {
    metric('appliance_last_cycle_age_seconds', 'gauge', 'Seconds since the last cycle ended (watchdog).', [
      [`{${app}}`, (now.getTime() - Date.parse(status.lastCycleFinishedAt)) / 1000],
    ]);
  }
  if (status.lastAppliedRevision !== undefined) {
    metric('appliance_applied_revision_info', 'gauge', 'The applied config revision.', [
      [`{${app},revision="${escapeLabel(status.lastAppliedRevision)}"}`, 1],
    ]);
  }
  const backup = status.backup;
  const backupLines = backupMetrics(backup?.status, backup?.condition ?? { status: false }, status.appliance);
  if (memory !== undefined) {
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory of the agent process.', [['', memory.rss]]);
    metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.', [['', memory.heapUsed]]);
    metric('nodejs_heap_total_bytes', 'gauge', 'V8 heap reserved.', [['', memory.heapTotal]]);
    metric('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JS (buffers).', [
      ['', memory.external],
    ]);
  }
  return `${lines.join('\n')}\n${backupLines}${certificateMetrics(status.certificates ?? [], status.appliance)}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
