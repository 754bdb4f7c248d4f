import { cloneSettings, type Clones } from '../core/clone.ts';
import type { Logger } from '../lib/log.ts';
import type { Trial } from './preflight.ts';

/** How long a pre-flight clone may live at most: the runtime removes it after a crash. */
const LIFETIME_MS = 60 * 60 * 1000;

/**
 * A pre-flight on a clone of production: `ensure` pulls the head's images, snapshots
 * production's data, applies the head's desired state to the clone (migrations included) and
 * resolves once its services pass their health checks, saying how long the migration took; then
 * the app's smoke_test command runs in the clone's stack; the clone is removed whatever
 * happened. The clone gets the app's clone settings (no outgoing mail, …), as any clone does.
 */
export function cloneTrial(deps: { clones: Clones; log: Logger; now?: () => Date }): Trial {
  const now = deps.now ?? (() => new Date());
  return async (desired, signal) => {
    const name = `pf-${desired.revision.slice(0, 12)}`;
    const log = deps.log.child({ clone: name, revision: desired.revision });
    try {
      const ready = await deps.clones.ensure(
        {
          name,
          desired,
          settings: cloneSettings(desired.app.cloneSettings, {}),
          expiresAt: new Date(now().getTime() + LIFETIME_MS),
          purpose: 'preflight',
        },
        signal,
      );
      log.info({ migrationMs: ready.migrationMs }, 'pre-flight clone is up');
      const smoke =
        desired.app.commands.smoke_test === undefined ? undefined : await deps.clones.exec(name, 'smoke_test', signal);
      return {
        ...(ready.migrationMs === undefined ? {} : { migrationMs: ready.migrationMs }),
        ...(smoke === undefined ? {} : { smoke }),
      };
    } finally {
      await deps.clones.remove(name).catch((err: unknown) => {
        log.warn({ err }, 'the pre-flight clone could not be removed; it expires');
      });
    }
  };
}
