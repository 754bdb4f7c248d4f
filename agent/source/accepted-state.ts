import { readFile } from 'node:fs/promises';
import { AgentError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';

/** The accepted revision, persisted in `<stateDir>/source.json`. */
export interface AcceptedState {
  version: 1;
  /** Credential-free remote URL the revision came from. */
  url: string;
  branch: string;
  revision: string;
  /** ISO time the revision was accepted. */
  acceptedAt: string;
  /** Who signed it, when signatures are checked. */
  signer?: string;
}

/** Reads the accepted state; undefined when there is none yet. A damaged file is refused. */
export async function readAcceptedState(file: string): Promise<AcceptedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isAcceptedState(value)) {
    // Silently starting over would drop the rewind guard: an operator has to look.
    throw new AgentError(
      'SourceStateCorrupt',
      `source state ${file} is damaged; inspect it, or remove it to accept the remote head again`,
      {
        terminal: true,
        data: { file },
      },
    );
  }
  return value;
}

/** Persists the accepted state atomically. */
export async function writeAcceptedState(file: string, state: AcceptedState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

function isAcceptedState(v: unknown): v is AcceptedState {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    o['version'] === 1 &&
    typeof o['url'] === 'string' &&
    typeof o['branch'] === 'string' &&
    typeof o['revision'] === 'string' &&
    /^[0-9a-f]{40}$/.test(o['revision']) &&
    typeof o['acceptedAt'] === 'string' &&
    (o['signer'] === undefined || typeof o['signer'] === 'string')
  );
}
