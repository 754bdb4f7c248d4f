import type { ForgeSettings } from '../core/config-types.gen.ts';
import { outcomeStatus } from '../core/forge-status.ts';
import type { CycleOutcome } from '../core/status.ts';
import type { Logger } from '../lib/log.ts';
import { ReportQueue } from './report-queue.ts';

/** A commit status to post, with the forge settings in force when it was made. */
export interface ForgeStatusJob {
  forge: ForgeSettings;
  sha: string;
  context: string;
  state: 'pending' | 'success' | 'failure' | 'error';
  description: string;
  targetUrl?: string;
}

export interface ForgeReporterDeps {
  name: string;
  log: Logger;
  /** The forge settings of the revision in force (env.yml `forge`), or undefined: nothing is posted. */
  settings: () => ForgeSettings | undefined;
  /** Posts one status (drivers/forge in production). */
  send: (job: ForgeStatusJob) => Promise<void>;
  /** Masks secret values in descriptions. */
  scrub: (text: string) => string;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * After each cycle, the commit status `appliance/<name>` on the applied or refused commit,
 * through a ReportQueue: never blocks the loop, sent only when it changed, retried with backoff.
 */
export class ForgeReporter {
  readonly queue: ReportQueue<ForgeStatusJob>;

  constructor(private readonly deps: ForgeReporterDeps) {
    this.queue = new ReportQueue<ForgeStatusJob>({
      what: 'commit status',
      log: deps.log,
      send: deps.send,
      slotOf: (j) => `${j.context}@${j.sha}`,
      fingerprintOf: (j) => `${j.state}\n${j.description}\n${j.targetUrl ?? ''}`,
      ...(deps.baseDelayMs === undefined ? {} : { baseDelayMs: deps.baseDelayMs }),
      ...(deps.maxDelayMs === undefined ? {} : { maxDelayMs: deps.maxDelayMs }),
    });
  }

  /** Called after each cycle; returns at once. */
  cycleFinished(outcome: CycleOutcome): void {
    const status = outcomeStatus(outcome);
    if (status !== undefined) this.post(status.sha, `appliance/${this.deps.name}`, status);
  }

  /** A pre-flight's result on a review head (`appliance/<name>/preflight`); returns at once. */
  preflight(sha: string, status: Pick<ForgeStatusJob, 'state' | 'description'>): void {
    this.post(sha, `appliance/${this.deps.name}/preflight`, status);
  }

  private post(sha: string, context: string, status: Pick<ForgeStatusJob, 'state' | 'description'>): void {
    const forge = this.deps.settings();
    if (forge === undefined) return;
    this.queue.push({
      forge,
      sha,
      context,
      state: status.state,
      description: this.deps.scrub(status.description),
      ...(forge.target_url === undefined ? {} : { targetUrl: forge.target_url }),
    });
  }
}
