import type { DesiredState } from '../../core/desired.ts';
import { secretValues } from '../../core/desired.ts';
import { formatIssue } from '../../core/result.ts';
import type { Notice } from '../../core/status.ts';
import { loadDesired, type DecryptEnv, type RepoReader } from '../../config/load.ts';
import type { Logger } from '../../lib/log.ts';
import type { SecretRegistry } from '../../lib/secrets.ts';

/** What the cycle needs of the config source (GitSource in production). */
export interface CycleSource {
  sync(): Promise<{ revision: string; reader: RepoReader }>;
  current(): Promise<{ revision: string; reader: RepoReader } | undefined>;
  /** An earlier revision still in the local store (the last applied one after a restart). */
  at?(revision: string): Promise<{ revision: string; reader: RepoReader } | undefined>;
}

export interface Target {
  revision?: string;
  reader?: RepoReader;
  error?: unknown;
}

/** The new head, or — when the source fails — the last accepted revision plus the error. */
export async function fetchTarget(source: CycleSource): Promise<Target> {
  try {
    return await source.sync();
  } catch (err) {
    const current = await source.current().catch(() => undefined);
    if (current === undefined) return { error: err };
    return { ...current, error: err };
  }
}

export interface DesiredDeps {
  name: string;
  source: CycleSource;
  decrypt: DecryptEnv;
  log: Logger;
  secrets: SecretRegistry;
}

export type Loaded = { ok: true; desired: DesiredState; notices: Notice[] } | { ok: false; issues: string };

/**
 * Reads, decrypts and validates a revision into its desired state. A commit's files never change
 * and the identities are fixed for the process: a revision loaded once is not read again on
 * every poll. Its warnings are logged once and kept as notices for /status.
 */
export function desiredStates(deps: DesiredDeps): {
  load(revision: string, reader: RepoReader): Promise<Loaded>;
  lastApplied(revision: string | undefined): Promise<{ desired: DesiredState; reader: RepoReader } | undefined>;
} {
  let loaded: { desired: DesiredState; notices: Notice[] } | undefined;
  return {
    async load(revision, reader) {
      if (loaded?.desired.revision === revision) return { ok: true, ...loaded };
      const result = await loadDesired(reader, deps.name, { decrypt: deps.decrypt, revision });
      if (!result.ok) return { ok: false, issues: result.errors.map(formatIssue).join('; ') };
      deps.secrets.add(...secretValues(result.value));
      const notices = result.warnings.map((w) => ({ code: 'ConfigWarning', message: formatIssue(w) }));
      for (const n of notices) deps.log.warn({ revision }, n.message);
      loaded = { desired: result.value, notices };
      return { ok: true, ...loaded };
    },

    /** After a restart the last applied revision is read again from the local git store. */
    async lastApplied(revision) {
      if (revision === undefined || deps.source.at === undefined) return undefined;
      try {
        const found = await deps.source.at(revision);
        if (found === undefined) return undefined;
        const result = await loadDesired(found.reader, deps.name, { decrypt: deps.decrypt, revision });
        if (!result.ok) return undefined;
        deps.secrets.add(...secretValues(result.value));
        deps.log.info({ revision }, 'the last applied revision is in force again');
        return { desired: result.value, reader: found.reader };
      } catch (err) {
        deps.log.warn({ err, revision }, 'the last applied revision could not be read again');
        return undefined;
      }
    },
  };
}
