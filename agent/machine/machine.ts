import type { ActualState } from '../core/actual.ts';
import type { DesiredState } from '../core/desired.ts';
import type { SnapshotVolume, Step } from '../core/steps.ts';
import { AppCommands } from '../drivers/app/commands.ts';
import type { DockerDriver } from '../drivers/docker/driver.ts';
import { dockerStatus } from '../drivers/docker/errors.ts';
import { waitDatabaseReady } from '../drivers/postgres/ready.ts';
import type { SnapshotDriver } from '../drivers/snapshot/driver.ts';
import { openSnapshots } from '../drivers/snapshot/store.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { dataExecutors, dataRecoverers } from './data-steps.ts';
import type { ExecContext, Executors, MachineDriver, Recoverers } from '../core/executors.ts';
import { readMigrationRecords, updateMigrationRecords, withCurrent } from './migration-records.ts';
import { observeMigration } from './observe-migration.ts';
import { recoverExecutor, recoverRecoverer, type RecoverData } from './disaster-recovery-step.ts';
import { storageLayout } from './storage-layout.ts';
import { CaddyAdmin, type IngressDriver } from '../drivers/ingress/caddy-admin.ts';
import { ingressFiles } from '../core/ingress-config.ts';
import { cloneAwareIngress, observeCloneSites } from './clone-sites.ts';
import { ingressExecutor, ingressRecoverer, replaceBeside } from './ingress-steps.ts';

/** What an ApplianceMachine is made of. */
export interface ApplianceMachineOptions {
  docker: DockerDriver;
  /** The desired state this machine is driven towards (its storage layout and commands). */
  desired: DesiredState;
  /** The engine's state directory (migrations.json, secrets/). */
  stateDir: string;
  log?: Logger;
  /** Opens the snapshot driver of a data path; default: btrfs when it is btrfs, else copies. */
  snapshots?: (root: string) => Promise<SnapshotDriver>;
  /** Restores a fresh appliance from its backup (env.yml recover_from_backup); without it that step fails. */
  recover?: RecoverData;
  now?: () => Date;
  /** Observe only (`appliance plan`): start no one-off container to ask for the migration status. */
  readOnly?: boolean;
}

/**
 * The whole machine as the engine drives it: Docker (containers, networks, volumes, one-off
 * commands), the snapshot layer of the data path, and the app's migrations. Observe adds the
 * snapshots and the desired image's migration status to Docker's view; data and database
 * volumes are made as subvolumes so they can be snapshotted.
 */
export class ApplianceMachine implements MachineDriver {
  private readonly app: AppCommands;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly open: (root: string) => Promise<SnapshotDriver>;
  private readonly opened = new Map<string, Promise<SnapshotDriver>>();
  private built: { executors: Executors; recoverers: Recoverers } | undefined;

  constructor(private readonly options: ApplianceMachineOptions) {
    const { docker } = options;
    this.log = options.log ?? createLogger({ level: 'warn' });
    this.now = options.now ?? ((): Date => new Date());
    this.open = options.snapshots ?? openSnapshots;
    // One-off containers take the service's mounts and networks; spec digests play no part.
    this.app = new AppCommands((req) => docker.runOneOff(req), '');
  }

  get executors(): Executors {
    return this.steps().executors;
  }

  get recoverers(): Recoverers {
    return this.steps().recoverers;
  }

  // Built on first use: a pass with nothing to do needs neither, and the maps and their
  // closures would otherwise live through every poll (long enough to reach the old generation).
  private steps(): { executors: Executors; recoverers: Recoverers } {
    if (this.built !== undefined) return this.built;
    const { docker, desired, stateDir } = this.options;
    const deps = {
      docker: docker.docker,
      owner: desired.name,
      stateDir,
      snapshots: (root: string) => this.snapshotsAt(root),
      app: this.app,
    };
    this.built = {
      executors: {
        ...docker.executors,
        'volume.create': (step, ctx) => this.createVolume(step, ctx),
        ...dataExecutors(deps),
        'data.recover': recoverExecutor(this.options.recover),
        'ingress.load': ingressExecutor(docker.deps, (d) => this.ingress(d)),
        'container.replace': this.replaceExecutor(),
      },
      recoverers: {
        ...docker.recoverers(desired.name),
        ...dataRecoverers(deps),
        'data.recover': recoverRecoverer,
        'ingress.load': ingressRecoverer,
      },
    };
    return this.built;
  }

  /** The ingress of a desired state; undefined when it runs none. */
  ingress(desired: DesiredState): IngressDriver | undefined {
    const proxy = desired.app.ingress.proxy;
    if (proxy === undefined) return undefined;
    // Clones' host names ride on whatever production loads (see withCloneSites).
    const caddy = new CaddyAdmin(proxy.adminDir, ingressFiles(desired));
    return cloneAwareIngress(caddy, desired, () => observeCloneSites(this.options.docker.docker, desired));
  }

  // App containers the ingress routes to are replaced beside the old one (see replaceBeside).
  private replaceExecutor(): Executors['container.replace'] {
    const { docker, desired } = this.options;
    const plain = docker.executors['container.replace'];
    const ingress = this.ingress(desired);
    if (ingress === undefined) return plain;
    const beside = replaceBeside(docker.deps, ingress, plain);
    const routed = new Set((desired.app.ingress.http?.routes ?? []).map((r) => r.service));
    return (step, ctx) => (routed.has(step.args.service) ? beside(step, ctx) : plain(step, ctx));
  }

  /** The data path snapshots live under, and the volumes they hold (none: no data volumes). */
  get storage(): { root: string; volumes: SnapshotVolume[] } | undefined {
    return storageLayout(this.options.desired);
  }

  async observe(owner: string, options: { hostPaths?: readonly string[] } = {}): Promise<ActualState> {
    const { desired, stateDir, docker } = this.options;
    const actual = await docker.observe(owner, options);
    if (owner !== desired.name) return actual;
    const records = await readMigrationRecords(stateDir, owner);
    const storage = this.storage;
    if (storage !== undefined) {
      const snaps = await this.snapshotsAt(storage.root);
      actual.storage = {
        driver: snaps.kind,
        root: storage.root,
        snapshots: await snaps.list(),
        restored: records.restored,
      };
    }
    const db = desired.app.database;
    const migration = await observeMigration(desired, actual, this.app, records, this.log, {
      readOnly: this.options.readOnly === true,
      // Docker says `starting` until its first check, one interval after a start: ask the database.
      databaseAnswers: async (id) =>
        db !== undefined &&
        (await waitDatabaseReady(docker.docker, id, db, this.log, { budgetMs: 60_000 }).then(
          () => true,
          () => false,
        )),
    });
    if (migration !== undefined) actual.migration = migration;
    const config = await this.ingress(desired)
      ?.read()
      .catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'the ingress did not say what it has loaded');
        return undefined;
      });
    if (config !== undefined) actual.ingress = { config };
    return actual;
  }

  async sweep(owner: string, options: { all: boolean }): Promise<void> {
    await this.options.docker.sweepOneOffs(owner, options.all);
    const storage = this.storage;
    if (storage !== undefined) await (await this.snapshotsAt(storage.root)).sweep();
  }

  /** Records the desired image as the one the database is migrated to, with its migration state. */
  async settled(desired: DesiredState, log: Logger): Promise<void> {
    const migrate = desired.app.commands.migrate;
    if (migrate === undefined || desired.app.database === undefined) return;
    let id: string;
    try {
      id = (await this.options.docker.docker.getImage(migrate.image).inspect()).Id;
    } catch (err) {
      if (dockerStatus(err) === 404) return;
      throw err;
    }
    const records = await readMigrationRecords(this.options.stateDir, desired.name);
    const hasState = desired.app.commands.migration_state === undefined || records.current?.state !== undefined;
    if (records.current?.imageId === id && hasState) return;
    let state: string | undefined;
    try {
      state = await this.app.state(desired, migrate.image);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'the migration state could not be recorded');
    }
    await updateMigrationRecords(this.options.stateDir, desired.name, (r) =>
      withCurrent(r, {
        imageRef: migrate.image,
        imageId: id,
        revision: desired.revision,
        ...(state === undefined ? {} : { state }),
        at: this.now().toISOString(),
      }),
    );
  }

  /** The snapshot driver of a data path (opened once). */
  snapshotsAt(root: string): Promise<SnapshotDriver> {
    let s = this.opened.get(root);
    if (s === undefined) {
      s = this.open(root);
      this.opened.set(root, s);
    }
    return s;
  }

  // Data and database volumes are made as subvolumes (on btrfs) so they can be snapshotted.
  private async createVolume(step: Step<'volume.create'>, ctx: ExecContext): Promise<undefined> {
    const storage = this.storage;
    const hostPath = step.args.hostPath;
    if (storage !== undefined && hostPath !== undefined && storage.volumes.some((v) => v.hostPath === hostPath)) {
      await (await this.snapshotsAt(storage.root)).createVolume(hostPath);
    }
    await this.options.docker.executors['volume.create'](step, ctx);
    return undefined;
  }
}
