import { secretValues, type DesiredState } from './desired.ts';
import type { IngressInput, ServiceReason } from './ingress-caddy.ts';

/**
 * What the agent is doing to the app, as far as the ingress cares. `stalled` is for a stall
 * that leaves the app unable to serve (not for a refused commit while the last good revision
 * keeps running: that is `serving`).
 */
export type AgentSituation =
  | { kind: 'serving' }
  | { kind: 'updating'; step?: 'migration' | 'restart' }
  | { kind: 'starting' }
  | { kind: 'recovering' }
  /** A stall as the status has it; the message is never shown (it may quote a command's output). */
  | { kind: 'stalled'; reason: string; message?: string }
  | { kind: 'unconfigured' };

/** What a user sees while the app cannot take traffic; undefined when it can. */
export type IngressService = NonNullable<IngressInput['service']>;

/** Shown for a manual service mode without a message of its own. */
export const DEFAULT_MANUAL_MESSAGE = 'The service is down for maintenance.';

// A stall reason is a PascalCase code (HealthCheckFailed); anything else is not shown.
const REASON_CODE = /^[A-Z][A-Za-z0-9]{0,39}$/;

/**
 * The `service` part of IngressInput: the one table of service pages, for the pages the plan
 * loads (see situationFor), the stalled page of a failing health check, and manual mode. Manual service mode (appliance.yml) wins over everything:
 * the operator chose what users read. Otherwise the page follows the situation, with fixed
 * texts: a stall shows only its reason code, never the message (which may quote a command's
 * output, and so a secret).
 */
export function ingressService(
  desired: DesiredState | undefined,
  situation: AgentSituation,
): IngressService | undefined {
  const manual = desired?.app.ingress.service;
  if (manual !== undefined) {
    const text = manual.message.trim();
    return { reason: 'manual', message: text === '' ? DEFAULT_MANUAL_MESSAGE : text, retryAfterSeconds: 300 };
  }
  if (desired === undefined) {
    return { reason: 'unconfigured', message: 'This appliance is not configured yet.', retryAfterSeconds: 300 };
  }
  switch (situation.kind) {
    case 'serving':
      return undefined;
    case 'updating': {
      const what =
        situation.step === 'migration'
          ? ' (the database is being migrated)'
          : situation.step === 'restart'
            ? ' (the service is restarting)'
            : '';
      return { reason: 'updating', message: `An update is in progress${what}.`, retryAfterSeconds: 30 };
    }
    case 'starting':
      return { reason: 'starting', message: 'The service is starting for the first time.', retryAfterSeconds: 30 };
    case 'recovering':
      return {
        reason: 'recovering',
        message: 'The service is being recovered and will be back shortly.',
        retryAfterSeconds: 60,
      };
    case 'stalled': {
      const code = shownCode(situation.reason, desired) === undefined ? '' : ` (${situation.reason})`;
      return {
        reason: 'stalled',
        message: `The service is stopped by a problem its operator has been told about${code}.`,
        retryAfterSeconds: 300,
      };
    }
    case 'unconfigured':
      return { reason: 'unconfigured', message: 'This appliance is not configured yet.', retryAfterSeconds: 300 };
  }
}

/** The reason code when it looks like one and holds no secret of the desired state (belt and braces). */
function shownCode(reason: string, desired: DesiredState): string | undefined {
  if (!REASON_CODE.test(reason)) return undefined;
  // Secrets shorter than 4 characters would hide every code and cannot be told from one.
  return secretValues(desired).some((s) => s.length >= 4 && reason.includes(s)) ? undefined : reason;
}

/** What a clone's host name shows until the clone runs healthy. */
export function cloneStartingPage(clone: string): IngressService {
  return { reason: 'starting', message: `The clone ${clone} is starting.`, retryAfterSeconds: 30 };
}

/** The situation a plan's service page step stands for (manual mode comes from the desired state). */
export function situationFor(reason: ServiceReason): AgentSituation {
  switch (reason) {
    case 'updating':
    case 'starting':
    case 'recovering':
    case 'unconfigured':
      return { kind: reason };
    case 'stalled':
      return { kind: 'stalled', reason: '' };
    case 'manual':
      return { kind: 'serving' };
  }
}
