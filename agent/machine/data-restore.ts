import type { MigrationRecord } from '../core/actual.ts';
import type { JsonObject, JsonValue } from '../core/json.ts';
import type { Step } from '../core/steps.ts';
import type { DockerClient } from '../drivers/docker/client.ts';
import type { SnapshotDriver } from '../drivers/snapshot/driver.ts';
import type { ExecContext, RecoverContext, Undo } from '../core/executors.ts';
import { readMigrationRecords, recordOf, updateMigrationRecords, withCurrent } from './migration-records.ts';
import { mergeUsers, recordedUsers, startUsers, stopVolumeUsers, volumePaths } from './volume-users.ts';

/** What a restore needs (the data steps' dependencies have it). */
export interface RestoreDeps {
  docker: DockerClient;
  owner: string;
  stateDir: string;
  snapshots: (root: string) => Promise<SnapshotDriver>;
}

/**
 * `snapshot.restore`: the snapshot's volumes replace the live ones (their users stopped, then
 * started again); the live volumes are kept aside until commit, so a later failure (or a crash)
 * puts them back. The migration record follows the data: it becomes the record of the image
 * the snapshot was taken under, and the snapshot is noted as restored (at most once).
 */
export async function restoreNamed(d: RestoreDeps, step: Step<'snapshot.restore'>, ctx: ExecContext): Promise<Undo> {
  const { name, root, volumes } = step.args;
  const snaps = await d.snapshots(root);
  const records = await readMigrationRecords(d.stateDir, d.owner);
  const trashId = `restore-${name}-${ctx.now().getTime()}`;
  const base: JsonObject = { trashId, previousCurrent: (records.current ?? null) as JsonValue };
  await ctx.record(base);
  const rctx: RecoverContext = { outputOf: ctx.outputOf, record: ctx.record, log: ctx.log, now: ctx.now };
  try {
    const users = await stopVolumeUsers(d.docker, d.owner, volumePaths(volumes), (u) =>
      ctx.record({ ...base, stopped: u }),
    );
    await snaps.swapIn(name, volumes, trashId);
    const info = (await snaps.list()).find((s) => s.name === name);
    const back = info?.appImage === undefined ? undefined : recordOf(records, { ref: info.appImage });
    await updateMigrationRecords(d.stateDir, d.owner, (r) => ({
      ...withCurrent(r, back),
      restored: [...r.restored.filter((n) => n !== name), name],
    }));
    ctx.log.warn(
      { snapshot: name, createdAt: step.args.createdAt },
      'snapshot restored: data written since it is lost',
    );
    await startUsers(d.docker, users, ctx.signal);
  } catch (err) {
    await undoRestore(d, step, ctx.outputOf(step.id) ?? base, rctx).catch((undoErr: unknown) => {
      ctx.log.error({ err: (undoErr as Error).message }, 'putting the data back after a failed restore failed');
    });
    throw err;
  }
  return {
    revert: () => undoRestore(d, step, ctx.outputOf(step.id) ?? base, rctx),
    commit: () => snaps.dropTrash(trashId),
  };
}

/** Puts the volumes a restore moved aside back in place, and the migration record as it was. */
export async function undoRestore(
  d: RestoreDeps,
  step: Step<'snapshot.restore'>,
  out: JsonObject,
  ctx: RecoverContext,
): Promise<void> {
  const { root, volumes, name } = step.args;
  const snaps = await d.snapshots(root);
  const running = await stopVolumeUsers(d.docker, d.owner, volumePaths(volumes), () => Promise.resolve());
  const trashId = out['trashId'];
  if (typeof trashId !== 'string') return;
  await snaps.swapBack(volumes, trashId);
  const previous = out['previousCurrent'];
  await updateMigrationRecords(d.stateDir, d.owner, (r) => ({
    ...withCurrent(
      r,
      previous === null || previous === undefined ? undefined : (previous as unknown as MigrationRecord),
    ),
    restored: r.restored.filter((n) => n !== name),
  }));
  await startUsers(d.docker, mergeUsers(recordedUsers(out), running));
  ctx.log.warn({ snapshot: name }, 'restore undone: the data is as it was before');
}
