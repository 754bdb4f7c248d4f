import { reportFingerprint, type ReportedState } from '../core/reported-state.ts';
import type { AgentStatus } from '../core/status.ts';
import type { Logger } from '../lib/log.ts';
import { ReportQueue } from './report-queue.ts';

export interface StatusRefReporterDeps {
  log: Logger;
  /** Builds the (secret-free) report of a status: reads migration records and backups. */
  build: (status: AgentStatus) => Promise<ReportedState>;
  /** Writes the status ref (source/status-ref-push.ts in production). */
  push: (report: ReportedState) => Promise<unknown>;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * After each cycle, the appliance's report to `refs/appliances/<name>/status`, through a
 * ReportQueue: beside the loop, pushed only when something but its time changed, retried with
 * backoff (a server without push rights for these credentials is logged once per report).
 */
export class StatusRefReporter {
  readonly queue: ReportQueue<ReportedState>;
  private building: Promise<void> = Promise.resolve();

  constructor(private readonly deps: StatusRefReporterDeps) {
    this.queue = new ReportQueue<ReportedState>({
      what: 'status ref',
      log: deps.log,
      send: async (r) => {
        await deps.push(r);
      },
      slotOf: (r) => r.appliance,
      fingerprintOf: reportFingerprint,
      ...(deps.baseDelayMs === undefined ? {} : { baseDelayMs: deps.baseDelayMs }),
      ...(deps.maxDelayMs === undefined ? {} : { maxDelayMs: deps.maxDelayMs }),
    });
  }

  /** Called after each cycle; returns at once (the report is built and queued beside the loop). */
  cycleFinished(status: AgentStatus): void {
    this.building = this.building
      .then(() => this.deps.build(status))
      .then((report) => {
        this.queue.push(report);
      })
      .catch((err: unknown) => {
        this.deps.log.warn({ err }, 'could not build the status report');
      });
  }

  /** Resolves once every report is built and sent. */
  async idle(): Promise<void> {
    await this.building;
    await this.queue.idle();
  }

  /** Resolves once every report is built and sent, or waits for a retry. */
  async settled(): Promise<void> {
    await this.building;
    await this.queue.settled();
  }
}
