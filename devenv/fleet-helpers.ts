import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentStatus, ConditionType } from '../agent/core/status.ts';
import { signBody } from '../agent/engine/webhook-auth.ts';
import { httpRequest, ownedContainers, type EnvInfo } from './docker-env.ts';
import { agentStatus, waitFor, type Fleet } from './fleet.ts';

/** A unique appliance name for a test file, so fleets never share containers. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function fleetRoot(name: string): string {
  return join(tmpdir(), 'appliance-e2e', name);
}

/** POSTs a correctly signed webhook to the agent. */
export async function webhook(fleet: Fleet, secret = fleet.webhookSecret): Promise<number> {
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const res = await httpRequest(`${fleet.agentUrl}/sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(secret, body) },
    body,
  });
  return res.status;
}

/** Waits until the agent has finished a cycle on `revision` and returns the status. */
export function waitForCycleOn(
  fleet: Fleet,
  revision: string,
  predicate: (s: AgentStatus) => boolean,
  timeoutMs = 180_000,
): Promise<AgentStatus> {
  return waitFor(`a cycle on ${revision.slice(0, 8)}`, timeoutMs, async () => {
    const s = await agentStatus(fleet);
    return s !== undefined &&
      s.lastAttemptedRevision === revision &&
      s.conditions.find((c) => c.type === 'Reconciling')?.status === false &&
      predicate(s)
      ? s
      : undefined;
  });
}

export function cond(s: AgentStatus, type: ConditionType): { status: boolean; reason: string; message: string } {
  const c = s.conditions.find((x) => x.type === type);
  if (c === undefined) throw new Error(`no ${type} condition`);
  return c;
}

/** Container ids of an appliance's services, by service label. */
export async function containerIds(env: EnvInfo, owner: string): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const line of await ownedContainers(env, owner, '{{.ID}} {{.Label "appliance.service"}} {{.State}}')) {
    const [id, service, state] = line.split(' ');
    if (id !== undefined && id !== '' && service !== undefined && state === 'running') ids[service] = id;
  }
  return ids;
}

/** GET the demo app: `{ version, rows }`. */
export async function appAnswer(fleet: Fleet): Promise<{ version: string; rows: number }> {
  const res = await httpRequest(`${fleet.webUrl}/`, { timeoutMs: 5000 });
  return JSON.parse(res.body.toString()) as { version: string; rows: number };
}
