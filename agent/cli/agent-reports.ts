import { join } from 'node:path';
import type { BootstrapConfig, ForgeSettings } from '../core/config-types.gen.ts';
import type { DesiredState } from '../core/desired.ts';
import type { PreflightStatus } from '../core/preflight.ts';
import { reportOf } from '../core/reported-state.ts';
import type { AgentStatus, CycleOutcome } from '../core/status.ts';
import type { AgentBackups } from '../backup/agent-backups.ts';
import { commitStatusRequest, sendForgeRequest } from '../drivers/forge/commit-status.ts';
import { ForgeReporter } from '../engine/forge-reporter.ts';
import { StatusRefReporter } from '../engine/status-ref-reporter.ts';
import type { Logger } from '../lib/log.ts';
import type { SecretRegistry } from '../lib/secrets.ts';
import { readMigrationRecords } from '../machine/migration-records.ts';
import { storageLayout } from '../machine/storage-layout.ts';
import { openSnapshots } from '../drivers/snapshot/store.ts';
import { parseSourceUrl, type GitCredentials } from '../source/index.ts';
import { statusRefPusher } from '../source/status-ref-push.ts';
import { VERSION } from './version.ts';

/** What the agent reports after each cycle, beside the loop: forge commit statuses and the status ref. */
export interface AgentReports {
  /** The revision in force changed (its forge settings and images). */
  applied(desired: DesiredState): void;
  cycleFinished(outcome: CycleOutcome, status: AgentStatus): void;
  /** A pre-flight's status on a review head (`appliance/<name>/preflight`). */
  preflight(sha: string, status: PreflightStatus): void;
  /** Waits up to `ms` for what can be sent now (not for retries), then stops. */
  stop(ms: number): Promise<void>;
}

export function agentReports(deps: {
  config: BootstrapConfig;
  log: Logger;
  secrets: SecretRegistry;
  auth: GitCredentials | undefined;
  backups: AgentBackups;
}): AgentReports {
  const { config, log, secrets } = deps;
  let inForce: DesiredState | undefined;
  let forgeSettings: ForgeSettings | undefined;
  const forge = new ForgeReporter({
    name: config.name,
    log: log.child({ component: 'forge' }),
    settings: () => forgeSettings,
    send: (job) => sendForgeRequest(commitStatusRequest(job.forge, job)),
    scrub: (text) => secrets.scrub(text),
  });
  const source = parseSourceUrl(config.repo.url, { allowInsecureHttp: config.repo.allow_insecure_http });
  const pusher = statusRefPusher({
    url: source.url,
    gitdir: join(config.state_dir, 'status-ref'),
    secrets,
    ...((deps.auth ?? source.auth) === undefined ? {} : { auth: deps.auth ?? source.auth }),
  });
  const statusRef = new StatusRefReporter({
    log: log.child({ component: 'status-ref' }),
    push: (report) => pusher.push(report),
    build: async (status) => {
      const records = await readMigrationRecords(join(config.state_dir, 'engine'), config.name);
      const backup = (await deps.backups.view().catch(() => undefined))?.status.lastSuccess;
      const state = (r: { imageRef: string; state?: string }): { imageRef: string; state?: string } => ({
        imageRef: r.imageRef,
        ...(r.state === undefined ? {} : { state: r.state }),
      });
      const layout = inForce === undefined ? undefined : storageLayout(inForce);
      const storage =
        layout === undefined
          ? undefined
          : await openSnapshots(layout.root)
              .then(async (store) => ({ driver: store.kind, snapshots: await store.list() }))
              .catch(() => undefined);
      return reportOf({
        ...(storage === undefined ? {} : { storage }),
        status: secrets.scrubDeep(status),
        ...(inForce === undefined ? {} : { desired: inForce }),
        migration: {
          ...(records.current === undefined ? {} : { current: state(records.current) }),
          images: records.images.map(state),
        },
        ...(backup === undefined ? {} : { lastBackup: { at: backup.finishedAt, snapshotId: backup.snapshotId } }),
        agentVersion: VERSION,
        now: new Date(),
      });
    },
  });
  return {
    applied(desired) {
      inForce = desired;
      forgeSettings = desired.site.forge;
    },
    cycleFinished(outcome, status) {
      forge.cycleFinished(outcome);
      statusRef.cycleFinished(status);
    },
    preflight(sha, status) {
      forge.preflight(sha, status);
    },
    async stop(ms) {
      const waited = Promise.all([forge.queue.settled(), statusRef.settled()]);
      await Promise.race([waited, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
      forge.queue.stop();
      statusRef.queue.stop();
    },
  };
}
