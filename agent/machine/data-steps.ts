import type { DockerClient } from '../drivers/docker/client.ts';
import type { MigrationRecord } from '../core/actual.ts';
import { AgentError, describeError, isAgentError, type ErrorCode } from '../core/errors.ts';
import type { JsonObject, JsonValue } from '../core/json.ts';
import type { SnapshotVolume, Step } from '../core/steps.ts';
import type { AppCommands } from '../drivers/app/commands.ts';
import { dockerStatus } from '../drivers/docker/errors.ts';
import type { SnapshotDriver } from '../drivers/snapshot/driver.ts';
import type { ExecContext, Executors, RecoverContext, Recoverers, Undo } from '../core/executors.ts';
import { readMigrationRecords, updateMigrationRecords, withCurrent } from './migration-records.ts';
import { restoreNamed, undoRestore } from './data-restore.ts';
import { mergeUsers, recordedUsers, startUsers, stopVolumeUsers, volumePaths } from './volume-users.ts';

/** The steps that change the database and files as a whole. */
export type DataAction = 'snapshot.create' | 'snapshot.restore' | 'app.migrate' | 'app.reverse-migrate';

/** What the data steps need: Docker (to stop and start volume users), snapshots, the app's commands, records. */
export interface DataStepDeps {
  docker: DockerClient;
  owner: string;
  /** The agent's state directory (migrations.json). */
  stateDir: string;
  snapshots: (root: string) => Promise<SnapshotDriver>;
  app: AppCommands;
}

/** What the snapshot step records, and the undo of a database change reads. */
interface TakenSnapshot {
  name: string;
  root: string;
  volumes: SnapshotVolume[];
}

/**
 * Executors of the data steps. A snapshot is kept when a later step fails (it expires). A
 * migration (forward or back) that fails, or is reverted, restores the PRE_MIGRATE snapshot of
 * its plan: its users stopped, the volumes swapped, the users started again; the record of the
 * image the database is migrated to is put back too. A restore keeps the live volumes aside
 * until commit, so it can be undone.
 */
export function dataExecutors(d: DataStepDeps): Pick<Executors, DataAction> {
  return {
    'snapshot.create': (step, ctx) => takeSnapshot(d, step, ctx),
    'snapshot.restore': (step, ctx) => restoreNamed(d, step, ctx),
    'app.migrate': (step, ctx) =>
      changeDatabase(d, step, ctx, async (begin) => {
        const cmd = ctx.desired.app.commands.migrate;
        if (cmd?.image !== step.args.image) throw outdated(step.id);
        // Asked while planning, moments ago and before the app was stopped: not again while it is down.
        const status =
          !step.args.asked && d.app.has(ctx.desired, 'migration_status')
            ? await d.app.status(ctx.desired, step.args.image, ctx.signal)
            : undefined;
        if (status?.status === 'db-newer') {
          throw new AgentError(
            'DowngradeNeedsReverseMigration',
            `the database was migrated by a newer version than ${step.args.image}`,
            { terminal: true },
          );
        }
        if (status?.status === 'error') {
          throw new AgentError(
            'MigrationStatusFailed',
            `migration_status of ${step.args.image} exited ${status.exitCode}: ${status.tail}`,
          );
        }
        if (status?.status === 'up-to-date') {
          ctx.log.info({ image: step.args.image }, 'no migration pending');
          return { migrated: false };
        }
        // Not asked again after: the new version's health check says whether it runs on this schema.
        await begin();
        const res = await d.app.migrate(ctx.desired, step.args.image, ctx.signal);
        ctx.log.info({ image: step.args.image, durationMs: res.durationMs, pending: step.args.pending }, 'migrated');
        return { migrated: true, durationMs: res.durationMs };
      }),
    'app.reverse-migrate': (step, ctx) =>
      changeDatabase(d, step, ctx, async (begin) => {
        await begin();
        const res = await d.app.reverse(ctx.desired, step.args.image, step.args.targetState, ctx.signal);
        ctx.log.info(
          { image: step.args.image, target: step.args.targetImage, durationMs: res.durationMs },
          'migrated back',
        );
        await expectUpToDate(d, ctx, step.args.targetImage, 'ReverseMigrationIncomplete');
        return { migrated: true, durationMs: res.durationMs };
      }),
  };
}

/** Recovery of the data steps after a crash: the same undo as a revert, from the journal alone. */
export function dataRecoverers(d: DataStepDeps): Pick<Recoverers, DataAction> {
  return {
    'snapshot.create': async (step, ctx) => {
      await startUsers(d.docker, recordedUsers(ctx.outputOf(step.id)));
    },
    'snapshot.restore': async (step, ctx) => {
      const out = ctx.outputOf(step.id);
      if (typeof out?.['trashId'] !== 'string') return;
      await undoRestore(d, step, out, ctx);
    },
    'app.migrate': (step, ctx) => recoverChange(d, step, ctx),
    'app.reverse-migrate': (step, ctx) => recoverChange(d, step, ctx),
  };
}

async function takeSnapshot(d: DataStepDeps, step: Step<'snapshot.create'>, ctx: ExecContext): Promise<undefined> {
  const { root, volumes, kind } = step.args;
  const snaps = await d.snapshots(root);
  const quiesce = !(await snaps.consistentWhileRunning(volumes));
  const stopped = quiesce
    ? await stopVolumeUsers(d.docker, d.owner, volumePaths(volumes), (users) => ctx.record({ stopped: users }))
    : [];
  try {
    const current = (await readMigrationRecords(d.stateDir, d.owner)).current;
    const info = await snaps.create({
      kind,
      volumes,
      now: ctx.now(),
      revision: current?.revision ?? ctx.desired.revision,
      ...(current === undefined ? {} : { appImage: current.imageRef }),
    });
    ctx.log.info({ snapshot: info.name, driver: snaps.kind, quiesced: quiesce }, 'snapshot taken');
    await ctx.record({ name: info.name, root, volumes, stopped });
  } finally {
    await startUsers(d.docker, stopped, ctx.signal);
  }
  return undefined;
}

/**
 * Runs a database change. `begin` is called right before the database is changed: it journals
 * the current migration record, so from then on a crash restores the snapshot and the record.
 * When the change fails after `begin`, it undoes itself (a failed step gets no revert from the
 * engine); on success the new record is the desired image's.
 */
async function changeDatabase<A extends 'app.migrate' | 'app.reverse-migrate'>(
  d: DataStepDeps,
  step: Step<A>,
  ctx: ExecContext,
  change: (begin: () => Promise<void>) => Promise<JsonObject>,
): Promise<Undo> {
  const previous = (await readMigrationRecords(d.stateDir, d.owner)).current ?? null;
  const base: JsonObject = { previousCurrent: previous as JsonValue };
  const progress = { begun: false };
  const begin = async (): Promise<void> => {
    await ctx.record(base);
    progress.begun = true;
  };
  const undo = (): Promise<boolean> =>
    undoChange(d, step as Step<'app.migrate'>, {
      outputOf: ctx.outputOf,
      record: ctx.record,
      log: ctx.log,
      now: ctx.now,
    });
  try {
    const result = await change(begin);
    const image = step.action === 'app.migrate' ? step.args.image : (step.args as { targetImage: string }).targetImage;
    // A forward migration's state is recorded once the app runs again (ApplianceMachine.settled).
    const state =
      step.action === 'app.reverse-migrate' ? (step.args as { targetState: string }).targetState : undefined;
    const record: MigrationRecord = {
      imageRef: image,
      imageId: await imageId(d.docker, image),
      revision: ctx.desired.revision,
      ...(state === undefined ? {} : { state }),
      at: ctx.now().toISOString(),
    };
    await updateMigrationRecords(d.stateDir, d.owner, (r) => withCurrent(r, record));
    await ctx.record({ ...base, ...result });
  } catch (err) {
    if (!progress.begun) throw err;
    let restored = false;
    try {
      restored = await undo();
    } catch (undoErr) {
      ctx.log.error(
        { err: (undoErr as Error).message, step: step.id },
        'restoring the snapshot after a failed migration failed',
      );
    }
    throw restored ? markRestored(err) : err;
  }
  return {
    revert: async () => {
      await undo();
    },
  };
}

/** The error of a change that was undone by restoring the snapshot (see classifyFailedApply). */
function markRestored(err: unknown): AgentError {
  const e = isAgentError(err) ? err : new AgentError('StepFailed', describeError(err), { cause: err });
  return new AgentError(e.code, e.message, { terminal: e.terminal, data: { ...e.data, restored: true }, cause: e });
}

async function recoverChange(
  d: DataStepDeps,
  step: Step<'app.migrate'> | Step<'app.reverse-migrate'>,
  ctx: RecoverContext,
): Promise<void> {
  // Without the record the change had not started: the data is as the snapshot has it.
  const out = ctx.outputOf(step.id);
  if (out === undefined || !('previousCurrent' in out)) return;
  await undoChange(d, step as Step<'app.migrate'>, ctx);
}

/**
 * Restores the plan's PRE_MIGRATE snapshot (unless the step found nothing to migrate) and puts
 * the previous migration record back.
 */
async function undoChange(d: DataStepDeps, step: Step<'app.migrate'>, ctx: RecoverContext): Promise<boolean> {
  const out = ctx.outputOf(step.id) ?? {};
  const snap =
    step.args.snapshot === undefined || out['migrated'] === false
      ? undefined
      : takenSnapshot(ctx.outputOf(step.args.snapshot));
  if (snap !== undefined) {
    const trashId = `undo-${snap.name}`;
    const snaps = await d.snapshots(snap.root);
    const users = await stopVolumeUsers(d.docker, d.owner, volumePaths(snap.volumes), async (u) => {
      // Users stopped by an earlier, interrupted undo are started too.
      await ctx.record({ ...out, undoStopped: mergeUsers(recordedUsers({ stopped: out['undoStopped'] ?? [] }), u) });
    });
    await snaps.swapIn(snap.name, snap.volumes, trashId);
    await startUsers(d.docker, mergeUsers(recordedUsers({ stopped: out['undoStopped'] ?? [] }), users));
    // Deleted once the database runs again: it is not needed for that.
    await snaps.dropTrash(trashId);
    ctx.log.warn({ snapshot: snap.name }, 'database and files restored from the PRE_MIGRATE snapshot');
  }
  const previous = out['previousCurrent'];
  await updateMigrationRecords(d.stateDir, d.owner, (r) =>
    withCurrent(r, previous === null || previous === undefined ? undefined : (previous as unknown as MigrationRecord)),
  );
  return snap !== undefined;
}

async function expectUpToDate(d: DataStepDeps, ctx: ExecContext, image: string, code: ErrorCode): Promise<void> {
  if (!d.app.has(ctx.desired, 'migration_status')) return;
  const again = await d.app.status(ctx.desired, image, ctx.signal);
  if (again.status !== 'up-to-date') {
    throw new AgentError(code, `after migrating, ${image} still reports ${again.status}: ${again.tail}`, {
      terminal: true,
      data: { image, exitCode: again.exitCode },
    });
  }
}

function takenSnapshot(out: JsonObject | undefined): TakenSnapshot | undefined {
  if (typeof out?.['name'] !== 'string' || typeof out['root'] !== 'string' || !Array.isArray(out['volumes'])) {
    return undefined;
  }
  return { name: out['name'], root: out['root'], volumes: out['volumes'] as unknown as SnapshotVolume[] };
}

async function imageId(docker: DockerClient, ref: string): Promise<string> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if (dockerStatus(err) === 404) return ref;
    throw err;
  }
}

function outdated(stepId: string): AgentError {
  return new AgentError('PlanOutdated', `${stepId}: the desired state no longer matches the plan`, {
    data: { step: stepId },
  });
}
