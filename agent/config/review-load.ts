import type { DesiredState } from '../core/desired.ts';
import { createContext, loadAppliance, type ApplianceOutcome, type DecryptEnv, type RepoReader } from './load.ts';
import { keylessEnv } from './keyless-env.ts';
import { resolveDesired } from './resolve.ts';

/** One appliance at one revision, as review sees it. */
export interface ReviewedAppliance {
  outcome: ApplianceOutcome;
  /** The desired state; without a key, env.yml's values are placeholders (see keylessEnv). */
  desired?: DesiredState;
}

/**
 * Loads an appliance for review: with `decrypt`, exactly as the agent would; without, the
 * desired state is resolved from env.yml's encrypted tree with placeholder values, so image,
 * app and key changes can still be planned.
 */
export async function loadForReview(
  reader: RepoReader,
  name: string,
  revision: string,
  decrypt: DecryptEnv | undefined,
): Promise<ReviewedAppliance> {
  const outcome = await loadAppliance(createContext(reader, decrypt === undefined ? {} : { decrypt }), name, revision);
  if (outcome.state !== undefined || decrypt !== undefined || outcome.documents === undefined) {
    return { outcome, ...(outcome.state === undefined ? {} : { desired: outcome.state }) };
  }
  if (outcome.errors.length > 0) return { outcome };
  const { app, appliance, envTree } = outcome.documents;
  const { env, secretPaths } = keylessEnv(envTree);
  const desired = resolveDesired({ name, revision, appFile: appliance.app, app, appliance, env, secretPaths });
  return { outcome, desired };
}
