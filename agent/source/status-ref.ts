import type { ReportedState } from '../core/reported-state.ts';

/** The ref an appliance keeps its reported state in, in the config repo. */
export const statusRef = (name: string): string => `refs/appliances/${name}/status`;

/** The file of the status ref's tree that holds the report. */
export const STATUS_FILE = 'status.json';

/** A status ref's report, or undefined when the text is not one (an unknown format is not guessed at). */
export function parseReportedState(text: string): ReportedState | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object') return undefined;
  const r = doc as Partial<ReportedState>;
  if (r.format !== 1 || typeof r.appliance !== 'string' || typeof r.reportedAt !== 'string') return undefined;
  return { images: {}, snapshots: [], conditions: [], agentVersion: 'unknown', ...r } as ReportedState;
}
