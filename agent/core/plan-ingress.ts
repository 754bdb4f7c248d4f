import type { ActualState } from './actual.ts';
import type { DesiredState } from './desired.ts';
import type { ServiceReason } from './ingress-caddy.ts';
import { steadyConfig } from './ingress-config.ts';
import { canonicalJson } from './spec-hash.ts';
import { RISK, type Step } from './steps.ts';

export const SERVICE_PAGE_STEP = 'ingress.load:service';
export const APP_ROUTES_STEP = 'ingress.load:app';

/**
 * The ingress steps of a plan whose other steps are wired (see wireAfter). While steps take an
 * app container down (a migration, a restart, a first start, a restore), every name shows the
 * service page: it is loaded before them and the app's routes after every other step, so the
 * app takes user traffic only once its health gate passed and nothing after can undo the
 * update. A replace of a running app container without host ports needs no page: the
 * executor starts the new container beside the old one, gates it and switches the upstream.
 * Otherwise a routes document that differs from what the ingress has loaded is one step.
 */
export function planIngress(desired: DesiredState, actual: ActualState, steps: Step[]): void {
  const proxy = desired.app.ingress.proxy;
  if (proxy === undefined) return;
  const roles = new Map(desired.app.services.map((s) => [s.name, s.role]));
  const isApp = (s: Step): boolean => 'service' in s.args && roles.get(s.args.service) === 'app';
  const stopped = new Set(steps.flatMap((s) => (s.action === 'container.stop' ? [s.args.service] : [])));
  const down = steps.filter((s) => {
    switch (s.action) {
      case 'container.stop':
      case 'container.create':
      case 'container.start':
        return isApp(s);
      case 'container.replace':
        return isApp(s) && !switchesBeside(desired, actual, s, stopped);
      case 'snapshot.restore':
      case 'app.migrate':
      case 'app.reverse-migrate':
      case 'data.recover':
        return true;
      default:
        return false;
    }
  });
  const proxySteps = steps.filter((s) => 'service' in s.args && s.args.service === proxy.service);
  const beside = steps.some((s) => s.action === 'container.replace' && isApp(s) && !down.includes(s));
  if (down.length > 0) {
    const reason = reasonOf(down, actual, roles);
    steps.push(
      loadStep(
        SERVICE_PAGE_STEP,
        { mode: 'service', reason },
        `${reasonText[reason]}: users see the service page until the app passed its health gate`,
        [],
      ),
    );
    for (const s of proxySteps) s.after = [...s.after, SERVICE_PAGE_STEP];
    const proxyIds = proxySteps.map((s) => s.id);
    for (const s of steps) {
      if (s.id === SERVICE_PAGE_STEP || proxySteps.includes(s)) continue;
      if (down.includes(s) || (isApp(s) && s.action.startsWith('container.'))) {
        s.after = [...new Set([...s.after, SERVICE_PAGE_STEP, ...proxyIds])];
      }
    }
  }
  const wanted = steadyConfig(desired, actual.containers);
  const loaded = actual.ingress?.config;
  const differs = loaded === undefined || canonicalJson(loaded) !== canonicalJson(wanted);
  if (down.length > 0 || beside || proxySteps.length > 0 || differs) {
    const why =
      down.length > 0
        ? 'the app passed its health gate'
        : differs
          ? 'the loaded configuration differs from the desired one'
          : 'the ingress or the app was replaced';
    steps.push(
      loadStep(
        APP_ROUTES_STEP,
        { mode: 'app' },
        why,
        steps.map((s) => s.id),
      ),
    );
  }
}

/**
 * A replace that can run beside the old container: it is running, is not stopped for a
 * database change, and publishes no host port (two containers could not hold it).
 */
export function switchesBeside(
  desired: DesiredState,
  actual: ActualState,
  step: Step<'container.replace'>,
  stopped: ReadonlySet<string> = new Set(),
): boolean {
  if (stopped.has(step.args.service) || step.args.spec.ports.length > 0) return false;
  if (!(desired.app.ingress.http?.routes ?? []).some((r) => r.service === step.args.service)) return false;
  return actual.containers.some((c) => c.id === step.args.from.id && c.state === 'running');
}

const reasonText: Record<ServiceReason, string> = {
  updating: 'update in progress',
  starting: 'the app is starting',
  recovering: 'recovery from backup',
  stalled: 'stalled',
  manual: 'service mode',
  unconfigured: 'not configured',
};

/** Recovery from backup; else an update while the app runs, a start when it does not. */
function reasonOf(down: readonly Step[], actual: ActualState, roles: ReadonlyMap<string, string>): ServiceReason {
  if (down.some((s) => s.action === 'data.recover')) return 'recovering';
  const appRunning = actual.containers.some((c) => c.state === 'running' && roles.get(c.service ?? '') === 'app');
  return appRunning ? 'updating' : 'starting';
}

function loadStep(id: string, args: Step<'ingress.load'>['args'], reason: string, after: string[]): Step {
  return { id, action: 'ingress.load', reason, after, risk: RISK['ingress.load'], args };
}
