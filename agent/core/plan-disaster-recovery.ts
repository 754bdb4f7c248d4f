import type { ActualState } from './actual.ts';
import type { DesiredState } from './desired.ts';
import { RISK, type Step } from './steps.ts';

/**
 * The recovery step of env.yml `recover_from_backup` (or `recover_from_dump`), as in the
 * original appliance's first start: planned while none of the app's containers exists and the
 * database holds no data, so it runs once on a fresh appliance, after its database is up and
 * before migrations and the app's first start. The flag may stay set: later plans find the app
 * (or data) and plan nothing, and the executor refuses to write over data it finds. Pure.
 */
export function planRecovery(desired: DesiredState, actual: ActualState): Step<'data.recover'> | undefined {
  const site = desired.site;
  const source = site.recover_from_backup ? 'backup' : site.recover_from_dump !== undefined ? 'dump' : undefined;
  if (source === undefined) return undefined;
  const app = new Set(desired.app.services.filter((s) => s.role === 'app').map((s) => s.name));
  if (actual.containers.some((c) => c.service !== undefined && app.has(c.service))) return undefined;
  if (actual.migration?.dataExists === true) return undefined;
  const reason =
    source === 'backup'
      ? 'env.yml recover_from_backup: a fresh appliance starts on the data of its latest backup'
      : `env.yml recover_from_dump: a fresh appliance starts on the database of ${site.recover_from_dump ?? ''}`;
  return {
    id: 'data.recover:data',
    action: 'data.recover',
    reason,
    after: [],
    risk: RISK['data.recover'],
    args: source === 'backup' ? { source } : { source, dump: site.recover_from_dump ?? '' },
  };
}
