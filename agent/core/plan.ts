import { findImage, type ActualContainer, type ActualState, type Inventory } from './actual.ts';
import type { DesiredState } from './desired.ts';
import { NEXT_SUFFIX, PREV_SUFFIX } from './names.ts';
import { desiredContainers, desiredNetworks, desiredVolumes, type DesiredContainer } from './normalize.ts';
import { migrationBlocked, planMigration, type MigrationPlan, type PlanRefusal } from './plan-migrate.ts';
import { planIngress } from './plan-ingress.ts';
import { planRecovery } from './plan-disaster-recovery.ts';
import { orderSteps, wireAfter, type StepMeta } from './plan-order.ts';
import { diffSpecs, shortRef } from './spec-diff.ts';
import { PHASE, RISK, type Action, type Step, type StepArgs } from './steps.ts';

/** Something the plan leaves alone, with why. */
export interface PlanNote {
  kind: 'container' | 'network' | 'volume';
  name: string;
  reason: string;
}

/** Steps in a valid order, plus what is left alone (`orphans`) and what cannot be done (`conflicts`). */
export interface Plan {
  owner: string;
  revision: string;
  createdAt: string;
  steps: Step[];
  /** Owned objects the plan keeps although the app no longer has them (data volumes, objects not in the inventory). */
  orphans: PlanNote[];
  /** Desired objects whose name is taken by something the agent does not own: nothing is done for them. */
  conflicts: PlanNote[];
  /** Changes the planner will not make (e.g. a downgrade without reverse migrations): the app keeps running as it is. */
  refused: PlanRefusal[];
}

export interface PlanOptions {
  now: Date;
  /** Owned objects after the last successful apply: only these are pruned. */
  lastApplied?: Inventory;
  /** The appliance's key for secret digests in specs (see `secretDigest`). */
  specKey: string;
}

/**
 * The download phase of a plan (see PHASE): its downloads alone, to apply before the rest and
 * plan again after. Undefined when the plan has no downloads, or nothing but downloads (then
 * the plan is applied as one).
 */
export function downloadPhase(p: Plan): Plan | undefined {
  const downloads = p.steps.filter((s) => PHASE[s.action] === 'download');
  if (downloads.length === 0 || downloads.length === p.steps.length) return undefined;
  return { ...p, steps: downloads.map((s) => ({ ...s, after: [] })) };
}

/**
 * The steps that take the machine from `actual` to `desired`. Pure and synchronous. Only
 * containers whose spec differs are touched; objects without this appliance's owner label are
 * never touched; owned objects are removed only when the last applied inventory lists them
 * (or they are the `-next`/`-prev` leftovers of an interrupted replace); volumes are never removed.
 */
export function plan(desired: DesiredState, actual: ActualState, options: PlanOptions): Plan {
  const p = new Planner(desired, actual, options);
  p.networksAndVolumes();
  p.database();
  for (const dc of desiredContainers(desired, options.specKey)) p.container(dc);
  p.prune();
  p.pulls();
  wireAfter(p.steps, p.meta);
  planIngress(desired, actual, p.steps);
  return {
    owner: desired.name,
    revision: desired.revision,
    createdAt: options.now.toISOString(),
    steps: orderSteps(p.steps),
    orphans: p.orphans,
    conflicts: p.conflicts,
    refused: p.migration.refusals,
  };
}

class Planner {
  readonly steps: Step[] = [];
  readonly meta = new Map<string, StepMeta>();
  readonly orphans: PlanNote[] = [];
  readonly conflicts: PlanNote[] = [];
  private readonly blocked = new Set<string>();
  private readonly claimed = new Set<string>();
  private readonly pullsWanted = new Map<string, string[]>();
  migration: MigrationPlan = { steps: [], stopped: [], hold: [], refusals: [], images: [] };

  constructor(
    private readonly desired: DesiredState,
    private readonly actual: ActualState,
    private readonly options: PlanOptions,
  ) {}

  networksAndVolumes(): void {
    const { actual } = this;
    for (const n of desiredNetworks(this.desired)) {
      if (actual.networks.some((a) => a.name === n.name)) continue;
      if (this.conflict('network', n.name, `network:${n.network}`, actual.foreign.networks)) continue;
      this.add('network.create', n.name, `network ${n.network} is missing`, { ...n });
    }
    for (const v of desiredVolumes(this.desired)) {
      if (v.name !== undefined) {
        if (actual.volumes.some((a) => a.name === v.name)) continue;
        if (this.conflict('volume', v.name, `volume:${v.volume}`, actual.foreign.volumes)) continue;
        this.add('volume.create', v.name, `volume ${v.volume} is missing`, { ...v });
      } else if (v.hostPath !== undefined && !actual.hostPaths.includes(v.hostPath)) {
        this.add('volume.create', v.hostPath, `directory of volume ${v.volume} is missing`, { ...v });
      }
    }
  }

  /**
   * The database steps (see planMigration and planRecovery), wired between the database and the
   * app containers: recovery first, then migrations (asked again: the recovered data may be older).
   */
  database(): void {
    if (migrationBlocked(this.desired, this.actual, this.blocked)) return;
    const m = planMigration(this.desired, this.actual, this.options.now);
    const recover = planRecovery(this.desired, this.actual);
    const db = this.desired.app.database === undefined ? [] : [this.desired.app.database.service];
    if (recover !== undefined) {
      this.steps.push(recover);
      this.meta.set(recover.id, { dependsOn: db });
      for (const s of m.steps) if (s.action === 'app.migrate') s.args.asked = false;
      m.gate ??= recover.id;
    }
    this.migration = m;
    const stops = m.steps.filter((s) => s.action === 'container.stop').map((s) => s.id);
    for (const step of m.steps) {
      this.steps.push(step);
      if (step.action === 'container.stop') {
        this.meta.set(step.id, { service: step.args.service, dependsOn: [] });
      } else if (step.action === 'snapshot.create') {
        this.meta.set(step.id, { extraAfter: stops });
      } else if (step.action === 'snapshot.restore') {
        this.meta.set(step.id, { extraAfter: [step.args.safety, ...stops] });
      } else if (step.action === 'app.migrate' || step.action === 'app.reverse-migrate') {
        this.meta.set(step.id, {
          uses: this.commandUses(step.args.service, step.args.image),
          dependsOn: db,
          extraAfter: [
            ...(step.args.snapshot === undefined ? [] : [step.args.snapshot]),
            ...stops,
            ...(recover === undefined ? [] : [recover.id]),
          ],
        });
        const by = step.action === 'app.migrate' ? 'migrations' : 'reverse migrations';
        this.pullsWanted.set(step.args.image, [...(this.pullsWanted.get(step.args.image) ?? []), by]);
      }
    }
  }

  container(dc: DesiredContainer): void {
    // A blocked service's containers are left as they are, not mistaken for pruned ones.
    for (const c of this.actual.containers) if (c.service === dc.service) this.claimed.add(c.id);
    if (this.migration.hold.includes(dc.service)) return;
    const needs = [
      ...dc.spec.networks.map((n) => `network:${this.networkOf(n)}`),
      ...dc.volumes.map((v) => `volume:${v}`),
      ...dc.dependsOn.map((s) => `service:${s}`),
    ].filter((k) => this.blocked.has(k));
    if (needs.length > 0) {
      this.blocked.add(`service:${dc.service}`);
      this.conflicts.push({
        kind: 'container',
        name: dc.name,
        reason: `blocked by a name conflict: needs ${needs.map((k) => k.replace(':', ' ')).join(', ')}`,
      });
      return;
    }
    if (this.conflict('container', dc.name, `service:${dc.service}`, this.actual.foreign.containers)) return;
    // Containers the database steps stop count as stopped: they are started (or replaced) after.
    const mine = this.actual.containers
      .filter((c) => c.service === dc.service)
      .map((c) => (this.migration.stopped.includes(c.id) ? { ...c, state: 'exited' as const } : c));
    const leftovers = mine.filter((c) => c.name === dc.name + NEXT_SUFFIX || c.name === dc.name + PREV_SUFFIX);
    for (const c of leftovers) this.remove(c, 'leftover of an interrupted replace');
    const others = mine.filter((c) => c.name !== dc.name && !leftovers.includes(c));
    let main = mine.find((c) => c.name === dc.name);
    const pick = others.find((c) => c.state === 'running') ?? others[0];
    if (main === undefined && pick !== undefined) {
      others.splice(others.indexOf(pick), 1);
      const args = { id: pick.id, from: pick.name, to: dc.name, service: dc.service };
      this.add('container.rename', dc.service, `container was renamed to ${pick.name} outside the agent`, args, {
        service: dc.service,
      });
      main = { ...pick, name: dc.name };
    }
    for (const c of others) {
      if (this.inInventory(c)) this.remove(c, `a second container for service ${dc.service}`);
      else this.orphan(c);
    }
    const args = { name: dc.name, service: dc.service, spec: dc.spec, specHash: dc.specHash, dependsOn: dc.dependsOn };
    if (main === undefined) {
      const reason = this.inInventory({ id: '', name: dc.name })
        ? `container ${dc.name} is missing (removed outside the agent)`
        : `new service ${dc.service}`;
      this.addContainer('container.create', dc, reason, args);
      return;
    }
    const diffs = main.spec === undefined ? ['container has no readable spec label'] : diffSpecs(main.spec, dc.spec);
    const image = findImage(this.actual.images, dc.spec.image);
    if (diffs.length === 0 && main.specHash !== dc.specHash) diffs.push('spec hash differs');
    if (diffs.length === 0 && image !== undefined && image.id !== main.imageId) {
      diffs.push(`image ${shortRef(dc.spec.image)} now points to ${short(image.id)} (running ${short(main.imageId)})`);
    }
    if (diffs.length > 0) {
      this.addContainer('container.replace', dc, diffs.join('; '), { ...args, from: { id: main.id, name: main.name } });
    } else if (main.state !== 'running') {
      const how = main.exitCode === undefined ? main.state : `${main.state}, exit code ${main.exitCode}`;
      this.addContainer('container.start', dc, `container is not running (${how})`, {
        name: dc.name,
        id: main.id,
        service: dc.service,
      });
    }
  }

  /** Owned objects the app no longer has: removed when inventoried, else reported. */
  prune(): void {
    for (const c of this.actual.containers) {
      if (this.claimed.has(c.id)) continue;
      const transient = c.name.endsWith(NEXT_SUFFIX) || c.name.endsWith(PREV_SUFFIX);
      if (transient && c.service !== undefined) this.remove(c, 'leftover of an interrupted replace');
      else if (this.inInventory(c)) {
        this.remove(
          c,
          c.service === undefined ? 'not part of the app' : `service ${c.service} is no longer in the app`,
        );
      } else this.orphan(c);
    }
    const networks = new Set(desiredNetworks(this.desired).map((n) => n.name));
    const leaving = new Set(
      this.steps.flatMap((s) =>
        s.action === 'container.remove' ? [s.args.id] : s.action === 'container.replace' ? [s.args.from.id] : [],
      ),
    );
    for (const n of this.actual.networks) {
      if (networks.has(n.name)) continue;
      const users = this.actual.containers.filter((c) => !leaving.has(c.id) && c.networks.includes(n.name));
      if (users.length > 0) {
        const names = users.map((c) => c.name).join(', ');
        this.orphans.push({ kind: 'network', name: n.name, reason: `no longer in the app but still used by ${names}` });
      } else if (this.options.lastApplied?.networks.some((i) => i.id === n.id || i.name === n.name) === true) {
        this.add('network.remove', n.name, `network ${n.network ?? n.name} is no longer in the app`, {
          name: n.name,
          id: n.id,
        });
      } else this.orphans.push({ kind: 'network', name: n.name, reason: notInventoried });
    }
    const volumes = new Set(desiredVolumes(this.desired).map((v) => v.name));
    for (const v of this.actual.volumes) {
      if (volumes.has(v.name)) continue;
      this.orphans.push({
        kind: 'volume',
        name: v.name,
        reason: 'no longer in the app; volumes hold data and are never removed by the agent (remove it by hand)',
      });
    }
  }

  pulls(): void {
    for (const [ref, neededBy] of this.pullsWanted) {
      if (findImage(this.actual.images, ref) !== undefined) continue;
      const digest = ref.includes('@sha256:') ? ' (by digest)' : '';
      this.add('image.pull', ref, `not on this machine${digest}; needed by ${neededBy.join(', ')}`, { ref, neededBy });
    }
  }

  private addContainer<A extends 'container.create' | 'container.replace' | 'container.start'>(
    action: A,
    dc: DesiredContainer,
    reason: string,
    args: StepArgs[A],
  ): void {
    const uses = [
      ...dc.spec.networks.map((n) => `network.create:${n}`),
      ...dc.volumes.map((v) => `volume.create:${this.volumeKey(v)}`),
      `image.pull:${dc.spec.image}`,
    ];
    if (action !== 'container.start')
      this.pullsWanted.set(dc.spec.image, [...(this.pullsWanted.get(dc.spec.image) ?? []), dc.service]);
    const role = this.desired.app.services.find((s) => s.name === dc.service)?.role;
    const gate = role === 'app' ? this.migration.gate : undefined;
    const extraAfter = [
      ...(gate === undefined ? [] : [gate]),
      ...(role === 'database' && this.migration.snapshot !== undefined ? [this.migration.snapshot] : []),
    ];
    this.add(action, dc.service, reason, args, { service: dc.service, dependsOn: dc.dependsOn, uses, extraAfter });
  }

  /** The set-up steps a one-off command of `service` needs: its networks, volumes and image. */
  private commandUses(service: string, image: string): string[] {
    const svc = this.desired.app.services.find((s) => s.name === service);
    const nets = new Map(desiredNetworks(this.desired).map((n) => [n.network, n.name]));
    return [
      ...(svc?.networks ?? []).map((n) => `network.create:${nets.get(n) ?? n}`),
      ...(svc?.mounts ?? []).map((m) => `volume.create:${this.volumeKey(m.volume)}`),
      `image.pull:${image}`,
    ];
  }

  private add<A extends Action>(action: A, key: string, reason: string, args: StepArgs[A], meta: StepMeta = {}): void {
    const id = `${action}:${key}`;
    this.steps.push({ id, action, reason, after: [], risk: RISK[action], args } as Step);
    this.meta.set(id, meta);
  }

  private remove(c: ActualContainer, reason: string): void {
    const args = { name: c.name, id: c.id, ...(c.service === undefined ? {} : { service: c.service }) };
    this.add('container.remove', c.name, reason, args, {
      ...(c.service === undefined ? {} : { service: c.service }),
      dependsOn: c.dependsOn,
    });
  }

  private orphan(c: ActualContainer): void {
    this.orphans.push({ kind: 'container', name: c.name, reason: notInventoried });
  }

  private conflict(kind: PlanNote['kind'], name: string, key: string, foreign: readonly string[]): boolean {
    if (!foreign.includes(name)) return false;
    this.blocked.add(key);
    this.conflicts.push({ kind, name, reason: `the name is taken by a ${kind} this appliance does not own` });
    return true;
  }

  private inInventory(c: { id: string; name: string }): boolean {
    return this.options.lastApplied?.containers.some((i) => i.id === c.id || i.name === c.name) === true;
  }

  private networkOf(dockerName: string): string {
    return desiredNetworks(this.desired).find((n) => n.name === dockerName)?.network ?? dockerName;
  }

  private volumeKey(volume: string): string {
    const v = desiredVolumes(this.desired).find((x) => x.volume === volume);
    return v?.name ?? v?.hostPath ?? volume;
  }
}

const notInventoried = 'owned by this appliance but not in the last applied inventory; left in place';

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
