import { mkdir, readdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { cloneOwner, type CloneExecResult } from '../core/clone.ts';
import { CLONE_LABELS, cloneDataDir, cloneDesired } from '../core/clone-state.ts';
import type { CommandName, DesiredState } from '../core/desired.ts';
import { AgentError } from '../core/errors.ts';
import type { MachineDriver } from '../core/executors.ts';
import { containerName, LABELS, networkName } from '../core/names.ts';
import { outputTail } from '../drivers/app/commands.ts';
import type { DockerClient } from '../drivers/docker/client.ts';
import { DockerDriver } from '../drivers/docker/driver.ts';
import { dockerStatus, ignoreMissing } from '../drivers/docker/errors.ts';
import { openSnapshots } from '../drivers/snapshot/store.ts';
import { exists, volumeOpsFor } from '../drivers/snapshot/volume-ops.ts';
import type { Logger } from '../lib/log.ts';
import type { CloneMachine, CloneRecord, CloneSpace, FoundClone } from './clone-machine.ts';
import { cloneAwareIngress, observeCloneSites } from './clone-sites.ts';
import { CaddyAdmin } from '../drivers/ingress/caddy-admin.ts';
import { ingressFiles } from '../core/ingress-config.ts';
import { cloneDirNames, readCloneRecord, writeCloneRecord } from './clone-records.ts';
import { ApplianceMachine } from './machine.ts';
import { readMigrationRecords, writeMigrationRecords } from './migration-records.ts';
import { storageLayout } from './storage-layout.ts';

/**
 * Clones with Docker and the snapshot driver: a clone's data is `<data>/clones/<name>/` (writable
 * btrfs snapshots of production's volumes and the clone's record), its engine state
 * `<state>/clones/<name>/`, and every Docker object it has carries the owner `<appliance>-<name>`
 * and the clone labels, so leftovers are found after a restart.
 */
export class DockerCloneMachine implements CloneMachine {
  /** Base snapshots being taken and cloned now (`sweep` leaves `CLONE` snapshots alone meanwhile). */
  private snapshotting = 0;

  constructor(
    private readonly docker: DockerClient,
    private readonly stateDir: string,
    private readonly log: Logger,
    /** Extra labels on everything a clone's stack makes (tests label theirs for cleanup). */
    private readonly labels: Readonly<Record<string, string>> = {},
  ) {}

  async space(production: DesiredState): Promise<CloneSpace | undefined> {
    const layout = storageLayout(production);
    if (layout === undefined) return undefined;
    const fs = await statfs(layout.root);
    return { root: layout.root, freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
  }

  async snapshot(production: DesiredState, record: CloneRecord): Promise<void> {
    const layout = this.layout(production);
    if ((await readCloneRecord(layout.root, record.name)) !== undefined) return;
    const snaps = await openSnapshots(layout.root);
    if (!(await snaps.consistentWhileRunning(layout.volumes))) {
      throw new AgentError(
        'CloneUnsupported',
        `clone ${record.name}: the volumes under ${layout.root} are not btrfs subvolumes, so they cannot be snapshotted while production runs`,
        { terminal: true, data: { clone: record.name, root: layout.root } },
      );
    }
    const dir = cloneDataDir(layout.root, record.name);
    await removeDir(dir); // what an interrupted one left
    await this.sweep(production);
    this.snapshotting++;
    try {
      const base = await snaps.create({ kind: 'CLONE', volumes: layout.volumes, now: new Date(record.createdAt) });
      try {
        await snaps.clone(
          base.name,
          layout.volumes.map((v) => ({ volume: v.volume, hostPath: `${dir}/${v.volume}` })),
        );
      } finally {
        // The writable copies are the clone's snapshot; the read-only base would only hold space.
        await snaps.delete(base.name);
      }
    } finally {
      this.snapshotting--;
    }
    await this.carryMigrationRecords(production, record.name);
    await writeCloneRecord(layout.root, record);
  }

  async sweep(production: DesiredState): Promise<void> {
    const layout = storageLayout(production);
    if (layout === undefined || this.snapshotting > 0) return;
    const snaps = await openSnapshots(layout.root);
    for (const snap of await snaps.list()) {
      // A base taken meanwhile is one in progress (this process makes every clone): left alone.
      if (snap.kind !== 'CLONE' || this.snapshotting > 0) continue;
      if (await snaps.delete(snap.name)) this.log.info({ snapshot: snap.name }, 'removed a leftover clone snapshot');
    }
  }

  record(production: DesiredState, name: string): Promise<CloneRecord | undefined> {
    const layout = storageLayout(production);
    return layout === undefined ? Promise.resolve(undefined) : readCloneRecord(layout.root, name);
  }

  async found(production: DesiredState): Promise<FoundClone[]> {
    const names = new Set<string>();
    const layout = storageLayout(production);
    if (layout !== undefined) for (const n of await cloneDirNames(layout.root)) names.add(n);
    const listed = await this.docker.listContainers({
      all: true,
      filters: { label: [`${CLONE_LABELS.of}=${production.name}`] },
    });
    for (const c of listed) {
      const n = c.Labels[CLONE_LABELS.name];
      if (n !== undefined) names.add(n);
    }
    const out: FoundClone[] = [];
    for (const name of [...names].sort()) {
      const record = layout === undefined ? undefined : await readCloneRecord(layout.root, name);
      out.push(record === undefined ? { name } : { name, record });
    }
    return out;
  }

  cloneState(
    production: DesiredState,
    desired: DesiredState,
    name: string,
    settings: Readonly<Record<string, string>>,
    host?: string,
  ): DesiredState {
    const hosts =
      host === undefined
        ? undefined
        : { production: [production.site.domain, ...(production.site.allowed_hosts ?? [])], clone: host };
    return cloneDesired(production.name, desired, name, settings, this.dirs(production, name), hosts);
  }

  async driver(cloneDesired: DesiredState, name: string): Promise<{ driver: MachineDriver; stateDir: string }> {
    const stateDir = this.cloneStateDir(name);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    return { driver: this.machine(cloneDesired, stateDir), stateDir };
  }

  async link(production: DesiredState, clone: DesiredState): Promise<void> {
    const proxy = production.app.ingress.proxy;
    if (proxy === undefined) return;
    const ingress = containerName(production.name, proxy.service);
    let connected: Set<string>;
    try {
      connected = new Set(Object.keys((await this.docker.getContainer(ingress).inspect()).NetworkSettings.Networks));
    } catch (err) {
      if (dockerStatus(err) === 404) return;
      throw err;
    }
    const internal = new Map(clone.app.networks.map((n) => [n.name, n.internal]));
    const routed = new Set((clone.app.ingress.http?.routes ?? []).map((r) => r.service));
    const nets = clone.app.services.filter((s) => routed.has(s.name)).flatMap((s) => s.networks);
    const open = nets.filter((n) => internal.get(n) !== true);
    for (const n of new Set(open.length > 0 ? open : nets)) {
      const docker = networkName(clone.name, n, internal.get(n) ?? false);
      if (connected.has(docker)) continue;
      await this.docker.getNetwork(docker).connect({ Container: ingress });
    }
  }

  async reloadIngress(production: DesiredState): Promise<void> {
    const proxy = production.app.ingress.proxy;
    if (proxy === undefined) return;
    const ingress = cloneAwareIngress(new CaddyAdmin(proxy.adminDir, ingressFiles(production)), production, () =>
      observeCloneSites(this.docker, production),
    );
    const loaded = await ingress.read();
    if (loaded !== undefined) await ingress.load(loaded);
  }

  async exec(
    cloneDesired: DesiredState,
    name: string,
    command: CommandName,
    signal?: AbortSignal,
  ): Promise<CloneExecResult> {
    const cmd = cloneDesired.app.commands[command];
    const service = cloneDesired.app.services.find((s) => s.name === cmd?.service);
    if (cmd === undefined || service === undefined) {
      throw new AgentError('CommandMissing', `the app defines no ${command} command`, { terminal: true });
    }
    const res = await this.dockerDriver(cloneDesired, this.cloneStateDir(name)).runOneOff({
      desired: cloneDesired,
      service,
      purpose: command,
      image: cmd.image,
      command: cmd.command,
      environment: cmd.environment,
      specKey: '',
      timeoutSeconds: cmd.timeoutSeconds,
      ...(signal === undefined ? {} : { signal }),
    });
    return { exitCode: res.exitCode, tail: outputTail(res) };
  }

  async remove(production: DesiredState, name: string): Promise<void> {
    const owner = cloneOwner(production.name, name);
    const mine = { label: [`${LABELS.owner}=${owner}`] };
    for (const c of await this.docker.listContainers({ all: true, filters: mine })) {
      await ignoreMissing(() => this.docker.getContainer(c.Id).remove({ force: true }));
    }
    const proxy = production.app.ingress.proxy;
    for (const n of await this.docker.listNetworks()) {
      if (n.Labels?.[LABELS.owner] !== owner) continue;
      const net = this.docker.getNetwork(n.Id);
      if (proxy !== undefined) {
        const ingress = containerName(production.name, proxy.service);
        await ignoreMissing(() => net.disconnect({ Container: ingress, Force: true })).catch(() => undefined);
      }
      await ignoreMissing(() => net.remove());
    }
    for (const v of (await this.docker.listVolumes()).Volumes ?? []) {
      if (v.Labels?.[LABELS.owner] === owner) await ignoreMissing(() => this.docker.removeVolume(v.Name));
    }
    const layout = storageLayout(production);
    if (layout !== undefined) {
      const dirs = this.dirs(production, name);
      await removeDir(dirs.volatileDir);
      await removeDir(dirs.dataDir);
    }
    await rm(this.cloneStateDir(name), { recursive: true, force: true });
    this.log.info({ clone: name }, 'clone removed');
  }

  private layout(production: DesiredState): NonNullable<ReturnType<typeof storageLayout>> {
    const layout = storageLayout(production);
    if (layout === undefined) {
      throw new AgentError(
        'CloneUnsupported',
        'the app has no data or database volume under the data path to snapshot',
        {
          terminal: true,
        },
      );
    }
    return layout;
  }

  /** The clone's data directory, and where its volatile volumes go (beside production's). */
  private dirs(production: DesiredState, name: string): { dataDir: string; volatileDir: string } {
    const layout = this.layout(production);
    const volatile = (production.site as unknown as { storage?: { paths?: { volatile?: string } } }).storage?.paths
      ?.volatile;
    return {
      dataDir: cloneDataDir(layout.root, name),
      volatileDir: cloneDataDir(volatile ?? path.join(layout.root, '.volatile'), name),
    };
  }

  /**
   * Production's migration records, as the clone's own: its database is a copy of production's,
   * migrated to the same image, so its first plan need not ask the image (a one-off container),
   * snapshot and migrate nothing, nor record the migration state again (another one). Taken in
   * the same idle moment as the snapshot, so they describe the data copied.
   */
  private async carryMigrationRecords(production: DesiredState, name: string): Promise<void> {
    const records = await readMigrationRecords(this.stateDir, production.name);
    const dir = this.cloneStateDir(name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeMigrationRecords(dir, { ...records, owner: cloneOwner(production.name, name) });
  }

  private cloneStateDir(name: string): string {
    return path.join(this.stateDir, 'clones', name);
  }

  private dockerDriver(desired: DesiredState, stateDir: string): DockerDriver {
    return new DockerDriver({
      docker: this.docker,
      stateDir,
      labels: { ...this.labels },
      registries: desired.site.registries.map((r) => ({
        serveraddress: r.server,
        username: r.username,
        password: r.password,
      })),
    });
  }

  private machine(desired: DesiredState, stateDir: string): MachineDriver {
    return new ApplianceMachine({ desired, stateDir, log: this.log, docker: this.dockerDriver(desired, stateDir) });
  }
}

/**
 * Removes a clone's directory: its own snapshots first (read-only subvolumes, e.g. the
 * PRE_MIGRATE of its migration), then its volumes one by one, then the directory.
 */
async function removeDir(dir: string): Promise<void> {
  if (!(await exists(dir))) return;
  const ops = await volumeOpsFor(dir);
  if (await exists(path.join(dir, '.snapshots'))) {
    const own = await openSnapshots(dir);
    for (const snap of await own.list()) await own.delete(snap.name);
    await own.sweep();
  }
  for (const entry of await readdir(dir)) await ops.remove(path.join(dir, entry));
  await ops.remove(dir);
}
