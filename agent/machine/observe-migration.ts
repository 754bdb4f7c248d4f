import { readdir } from 'node:fs/promises';
import { findImage, type ActualState, type MigrationObservation } from '../core/actual.ts';
import type { DesiredState } from '../core/desired.ts';
import { containerName } from '../core/names.ts';
import type { AppCommands } from '../drivers/app/commands.ts';
import type { Logger } from '../lib/log.ts';
import { recordOf, type MigrationRecords } from './migration-records.ts';

/**
 * The migration status of the desired image, learnt the cheapest way that is sure: from the
 * records when the database was last migrated by this very image; else by asking the image
 * (its migration_status command in a one-off container) when it is on the machine and the
 * database runs; else `unknown`, and the planner plans conservatively. A status command that
 * fails with an unknown exit code, for an image that was current before the current one, is
 * read as a downgrade (`db-newer`). Undefined when the app has no migrate command or database.
 */
export async function observeMigration(
  desired: DesiredState,
  actual: ActualState,
  app: AppCommands,
  records: MigrationRecords,
  log: Logger,
  options: {
    readOnly?: boolean;
    /** Whether the database container (by id) answers a real query, waiting while it starts. */
    databaseAnswers?: (id: string) => Promise<boolean>;
  } = {},
): Promise<MigrationObservation | undefined> {
  const migrate = desired.app.commands.migrate;
  const database = desired.app.database;
  if (migrate === undefined || database === undefined) return undefined;
  const image = migrate.image;
  const local = findImage(actual.images, image);
  const known = local === undefined ? undefined : recordOf(records, { id: local.id });
  const base = {
    service: migrate.service,
    image,
    detail: [] as string[],
    dataExists: await databaseHasData(desired, actual),
    ...(known?.state === undefined ? {} : { targetState: known.state }),
    ...(records.current === undefined ? {} : { current: records.current }),
  };
  const unknown = (note: string): MigrationObservation => ({
    ...base,
    status: 'unknown',
    note,
    ...(options.readOnly === true ? { readOnly: true } : {}),
  });
  if (local !== undefined && records.current?.imageId === local.id) {
    return {
      ...base,
      status: 'up-to-date',
      note: `recorded at the update to revision ${records.current.revision.slice(0, 12)}`,
    };
  }
  if (local === undefined) return unknown(`${image} is not on this machine yet`);
  const db = actual.containers.find((c) => c.name === containerName(desired.name, database.service));
  if (db?.state !== 'running' || db.health === 'unhealthy') {
    return unknown(`the database (${database.service}) is not running`);
  }
  // A status command that cannot connect would read as an error (for an older image: a
  // downgrade), so a database Docker still calls `starting` must answer a query first.
  if (db.health === 'starting' && options.readOnly !== true && !(await (options.databaseAnswers?.(db.id) ?? false))) {
    return unknown(`the database (${database.service}) is still starting`);
  }
  if (!app.has(desired, 'migration_status')) return unknown('the app has no migration_status command');
  // Asking starts a one-off container: a read-only observation (plan) never does.
  if (options.readOnly === true) return unknown(`not asked: ${image} would have to run`);
  let answer;
  try {
    answer = await app.status(desired, image);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'asking for the migration status failed');
    return unknown(`asking ${image} failed: ${(err as Error).message}`);
  }
  const asked = { ...base, detail: answer.detail };
  let obs: MigrationObservation;
  if (answer.status === 'error') {
    const older =
      known !== undefined &&
      records.current !== undefined &&
      known.at < records.current.at &&
      known.imageId !== records.current.imageId;
    obs = older
      ? {
          ...asked,
          status: 'db-newer',
          note: `recorded: ${records.current?.imageRef ?? ''} migrated the database after ${image}`,
        }
      : { ...asked, status: 'unknown', note: `migration_status exited ${answer.exitCode}: ${answer.tail}` };
  } else {
    obs = { ...asked, status: answer.status, note: `asked ${image}` };
  }
  if (obs.status === 'db-newer' && obs.targetState === undefined && app.has(desired, 'migration_state')) {
    try {
      const state = await app.state(desired, image);
      if (state !== undefined) obs.targetState = state;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'asking for the migration state failed');
    }
  }
  return obs;
}

/** True when the database service's data volume holds anything (a host directory not empty, or a named volume). */
async function databaseHasData(desired: DesiredState, actual: ActualState): Promise<boolean> {
  const database = desired.app.database;
  const svc = desired.app.services.find((s) => s.name === database?.service);
  const mounted = desired.app.volumes.filter((v) => svc?.mounts.some((m) => m.volume === v.name) === true);
  const databaseKind = mounted.filter((v) => v.kind === 'database');
  const volumes = databaseKind.length > 0 ? databaseKind : mounted;
  for (const v of volumes) {
    if (v.hostPath === undefined) {
      if (actual.volumes.some((a) => a.volume === v.name)) return true;
      continue;
    }
    try {
      if ((await readdir(v.hostPath)).length > 0) return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return false;
}
