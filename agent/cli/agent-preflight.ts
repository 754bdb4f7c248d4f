import { join } from 'node:path';
import { loadDesired, type DecryptEnv, type RepoReader } from '../config/load.ts';
import type { Clones } from '../core/clone.ts';
import type { BootstrapConfig } from '../core/config-types.gen.ts';
import { secretValues, type DesiredState } from '../core/desired.ts';
import type { PreflightStatus } from '../core/preflight.ts';
import { Preflight } from '../engine/preflight.ts';
import { cloneTrial } from '../engine/preflight-trial.ts';
import type { Logger } from '../lib/log.ts';
import type { SecretRegistry } from '../lib/secrets.ts';
import type { GitCredentials } from '../source/index.ts';
import { ReviewSource } from '../source/review-source.ts';

/** The pre-flight of review heads as the agent runs it (see engine/preflight.ts). */
export interface AgentPreflight {
  /** The revision in force changed: its patterns apply from now on, its files are the base of comparisons. */
  applied(desired: DesiredState, reader: RepoReader): void;
  /** After each cycle: look for new heads (returns at once). */
  cycleFinished(): void;
  /** The pre-flight state directory (preflight.json), for /status. */
  readonly stateDir: string;
  stop(): Promise<void>;
}

export function agentPreflight(deps: {
  config: BootstrapConfig;
  log: Logger;
  secrets: SecretRegistry;
  auth: GitCredentials | undefined;
  decrypt: DecryptEnv;
  clones: Clones;
  report: (sha: string, status: PreflightStatus) => void;
  slot: <T>(fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;
}): AgentPreflight {
  const { config, secrets } = deps;
  const log = deps.log.child({ component: 'preflight' });
  const stateDir = join(config.state_dir, 'preflight');
  let inForce: { desired: DesiredState; reader: RepoReader } | undefined;
  const preflight = new Preflight({
    name: config.name,
    log,
    stateDir,
    source: new ReviewSource(
      { log, secrets },
      {
        url: config.repo.url,
        allowInsecureHttp: config.repo.allow_insecure_http,
        stateDir,
        ...(deps.auth === undefined ? {} : { auth: deps.auth }),
        // The branch's rules: signers required unless the bootstrap allows unsigned commits.
        ...(config.trust.allow_unsigned ? {} : { trustedSigners: config.trust.signers }),
      },
    ),
    inForce: () => inForce,
    load: async (reader, revision) => {
      const loaded = await loadDesired(reader, config.name, { decrypt: deps.decrypt, revision });
      if (loaded.ok) secrets.add(...secretValues(loaded.value));
      return loaded;
    },
    trial: cloneTrial({ clones: deps.clones, log }),
    report: deps.report,
    slot: deps.slot,
  });
  return {
    stateDir,
    applied(desired, reader) {
      inForce = { desired, reader };
    },
    cycleFinished() {
      if (inForce?.desired.preflight !== undefined) preflight.poke();
    },
    stop: () => preflight.idle(),
  };
}
