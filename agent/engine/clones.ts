import {
  cloneHost,
  type CloneExecResult,
  type ClonePurpose,
  type CloneReady,
  type CloneRequest,
  type Clones,
  type CloneStatus,
} from '../core/clone.ts';
import type { CommandName, DesiredState } from '../core/desired.ts';
import { AgentError, describeError } from '../core/errors.ts';
import { isErrorCode } from '../core/error-codes.ts';
import type { MachineDriver } from '../core/executors.ts';
import type { Logger } from '../lib/log.ts';
import type { CloneMachine, CloneRecord } from '../machine/clone-machine.ts';
import { converge } from './loop/converge.ts';
import { readExpired, writeExpired } from './clone-tombstones.ts';

/** What the clone runtime is made of (wired in cli/agent.ts; tests pass real ones). */
export interface CloneRuntimeOptions {
  /** Snapshots, stacks and removal on the machine (DockerCloneMachine). */
  machine: CloneMachine;
  /** The agent's state directory: expired entries are remembered in `clones/expired.json`. */
  stateDir: string;
  log: Logger;
  /** Production's desired state in force (the last applied): the data snapshotted and the ingress routing the clone. */
  production: () => DesiredState | undefined;
  /**
   * Runs `fn` while no production cycle runs (the reconciler's `exclusive`). Used only for the
   * instant snapshot, so a clone never sees an update half applied and never holds the loop long.
   */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Free space on the data path under which a clone is refused (default: 10% of the filesystem, at least 1 GiB). */
  minFree?: { bytes?: number; fraction?: number };
  now?: () => Date;
}

const GIB = 1024 ** 3;

/**
 * The clone runtime (contract: agent/core/clone.ts). Each clone is applied by the same converge
 * as production, with its own owner, state directory and journal, beside the loop: only the
 * snapshot waits for the loop to be idle. `follow` keeps appliance.yml's clones: makes missing
 * ones, removes those whose entry is gone, and removes expired ones (an expired entry is not made
 * again until it is deleted and added anew).
 */
export class CloneRuntime implements Clones {
  private readonly statuses = new Map<string, CloneStatus>();
  private readonly desired = new Map<string, DesiredState>();
  /** Per clone: the operation in progress (one at a time per clone). */
  private readonly working = new Map<string, Promise<unknown>>();
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private following: Promise<void> | undefined;

  constructor(private readonly options: CloneRuntimeOptions) {
    this.now = options.now ?? ((): Date => new Date());
  }

  ensure(req: CloneRequest, signal?: AbortSignal): Promise<CloneReady> {
    return this.serial(req.name, () => this.bringUp(req, signal));
  }

  async exec(name: string, command: CommandName, signal?: AbortSignal): Promise<CloneExecResult> {
    const desired = this.desired.get(name) ?? (await this.foundDesired(name));
    if (desired === undefined)
      throw new AgentError('CloneNotFound', `no clone ${name} runs`, { data: { clone: name } });
    return this.options.machine.exec(desired, name, command, signal);
  }

  /**
   * The desired state of a clone this runtime did not make (one made before an agent restart),
   * from its record on the machine and its entry in production's appliance.yml: what `follow`
   * would bring it to. A pre-flight clone's head is not remembered: such a clone is a leftover.
   */
  private async foundDesired(name: string): Promise<DesiredState | undefined> {
    const production = this.options.production();
    const entry = production?.clones?.find((c) => c.name === name);
    if (production === undefined || entry === undefined) return undefined;
    const record = await this.options.machine.record(production, name);
    if (record?.purpose !== 'clone') return undefined;
    return this.options.machine.cloneState(production, production, name, entry.settings, this.hostOf(name, 'clone'));
  }

  remove(name: string): Promise<void> {
    return this.serial(name, async () => {
      const production = this.production();
      const status = this.statuses.get(name);
      if (status !== undefined) this.statuses.set(name, { ...status, state: 'removing' });
      try {
        await this.options.machine.remove(production, name);
      } finally {
        this.statuses.delete(name);
        this.desired.delete(name);
      }
      await this.reloadIngress(production, status?.purpose);
    });
  }

  list(): CloneStatus[] {
    return [...this.statuses.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Brings the clones on the machine in line with production's appliance.yml `clones`: expired
   * clones and clones whose entry is gone (and pre-flight clones nobody works on: leftovers of an
   * earlier run) are removed, missing ones made in the background. Never throws.
   */
  async follow(): Promise<void> {
    const production = this.options.production();
    if (production === undefined) return;
    // A follow in progress (timer and apply can meet) is joined, not doubled.
    this.following ??= this.sync(production)
      .catch((err: unknown) => {
        this.options.log.warn({ err: describeError(err) }, 'keeping the clones failed; tried again later');
      })
      .finally(() => {
        this.following = undefined;
      });
    await this.following;
  }

  /** Runs `follow` every `intervalMs` (expiry and entries). */
  start(intervalMs = 60_000): void {
    this.timer = setInterval(() => void this.follow(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  private async sync(production: DesiredState): Promise<void> {
    const { machine, stateDir } = this.options;
    const entries = new Map((production.clones ?? []).map((c) => [c.name, c]));
    const now = this.now();
    await machine.sweep(production);
    const remembered = await readExpired(stateDir);
    // An entry deleted from appliance.yml is forgotten: added again, it makes a new clone.
    const expired = Object.fromEntries(Object.entries(remembered).filter(([name]) => entries.has(name)));
    for (const found of await machine.found(production)) {
      if (this.working.has(found.name)) continue;
      const r = found.record;
      const gone =
        r === undefined || (r.purpose === 'clone' ? !entries.has(found.name) : !this.statuses.has(found.name));
      const due = r !== undefined && Date.parse(r.expiresAt) <= now.getTime();
      if (!gone && !due) continue;
      if (due && r.purpose === 'clone' && entries.has(found.name)) expired[found.name] = r.createdAt;
      this.options.log.info({ clone: found.name, why: due ? 'expired' : 'entry gone' }, 'removing a clone');
      await this.remove(found.name).catch((err: unknown) => {
        this.options.log.warn({ clone: found.name, err: describeError(err) }, 'removing a clone failed');
      });
      if (due && r.purpose === 'clone' && entries.has(found.name)) {
        this.statuses.set(found.name, {
          name: found.name,
          purpose: 'clone',
          state: 'expired',
          createdAt: r.createdAt,
          expiresAt: r.expiresAt,
          reason: { code: 'CloneExpired', message: `expired at ${r.expiresAt}; delete the entry to drop it` },
        });
      }
    }
    if (JSON.stringify(expired) !== JSON.stringify(remembered)) await writeExpired(stateDir, expired);
    const started: Promise<unknown>[] = [];
    for (const [name, entry] of entries) {
      if (expired[name] !== undefined || this.working.has(name)) continue;
      const status = this.statuses.get(name);
      if (status?.state === 'running' && status.revision === production.revision) continue;
      if (status?.state === 'failed' && status.revision === production.revision) continue;
      const record = await machine.record(production, name);
      const created = record === undefined ? now : new Date(record.createdAt);
      const req: CloneRequest = {
        name,
        desired: production,
        settings: entry.settings,
        expiresAt: new Date(created.getTime() + entry.expiresAfterMs),
        purpose: 'clone',
      };
      started.push(
        this.ensure(req).catch((err: unknown) => {
          this.options.log.warn({ clone: name, err: describeError(err) }, 'the clone did not come up');
        }),
      );
    }
    await Promise.all(started);
  }

  private async bringUp(req: CloneRequest, signal: AbortSignal | undefined): Promise<CloneReady> {
    const { machine, log } = this.options;
    const production = this.production();
    const host = this.hostOf(req.name, req.purpose);
    const base: CloneStatus = {
      name: req.name,
      purpose: req.purpose,
      state: 'creating',
      expiresAt: req.expiresAt.toISOString(),
      revision: req.desired.revision,
      ...(host === undefined ? {} : { host }),
    };
    try {
      let record = await machine.record(production, req.name);
      if (record === undefined) {
        await this.checkSpace(production, req.name);
        this.statuses.set(req.name, base);
        record = {
          name: req.name,
          purpose: req.purpose,
          createdAt: this.now().toISOString(),
          expiresAt: base.expiresAt,
          revision: req.desired.revision,
        } satisfies CloneRecord;
        const made = record;
        await this.options.exclusive(() => machine.snapshot(production, made));
      }
      const status = { ...base, createdAt: record.createdAt, expiresAt: record.expiresAt };
      this.statuses.set(req.name, status);
      await this.reloadIngress(production, req.purpose);
      const desired = machine.cloneState(production, req.desired, req.name, req.settings, host);
      this.desired.set(req.name, desired);
      const { driver, stateDir } = await machine.driver(desired, req.name);
      const spent: { ms?: number } = {};
      const result = await converge({
        desired,
        driver: timedMigration(driver, spent),
        stateDir,
        log: log.child({ clone: req.name }),
        now: this.now,
        ...(signal === undefined ? {} : { signal }),
      });
      if (!result.applied) {
        const e = result.error ?? { code: 'CloneFailed', message: 'the clone did not converge' };
        throw new AgentError(isErrorCode(e.code) ? e.code : 'CloneFailed', `clone ${req.name}: ${e.message}`, {
          data: { clone: req.name },
        });
      }
      await machine.link(production, desired);
      this.statuses.set(req.name, { ...status, state: 'running' });
      await this.reloadIngress(production, req.purpose);
      log.info({ clone: req.name, host, migrationMs: spent.ms }, 'clone running');
      return { migrationMs: spent.ms, host };
    } catch (err) {
      const refused = err instanceof AgentError && (err.code === 'CloneNoSpace' || err.code === 'CloneUnsupported');
      const code = err instanceof AgentError ? err.code : 'CloneFailed';
      this.statuses.set(req.name, {
        ...base,
        ...(this.statuses.get(req.name)?.createdAt === undefined
          ? {}
          : { createdAt: this.statuses.get(req.name)?.createdAt }),
        state: refused ? 'refused' : 'failed',
        reason: { code, message: err instanceof Error ? err.message : String(err) },
      } as CloneStatus);
      throw err;
    }
  }

  /**
   * The clone's host on production's ingress: its page, its routes, or gone. Waits for the loop
   * to be idle so it never races a production load; pre-flight clones have no host.
   */
  private async reloadIngress(production: DesiredState, purpose: ClonePurpose | undefined): Promise<void> {
    if (purpose === 'preflight' || production.app.ingress.proxy === undefined) return;
    await this.options.exclusive(() => this.options.machine.reloadIngress(production));
  }

  /** The clone's host on production's ingress; none for a pre-flight clone or without an ingress. */
  private hostOf(name: string, purpose: ClonePurpose): string | undefined {
    const production = this.production();
    return purpose === 'clone' && production.app.ingress.proxy !== undefined
      ? cloneHost(name, production.site.domain)
      : undefined;
  }

  private async checkSpace(production: DesiredState, name: string): Promise<void> {
    const space = await this.options.machine.space(production);
    if (space === undefined) {
      throw new AgentError('CloneUnsupported', `clone ${name}: the app has no data or database volume to snapshot`, {
        terminal: true,
      });
    }
    const min = this.options.minFree;
    const need = Math.max(min?.bytes ?? GIB, (min?.fraction ?? 0.1) * space.totalBytes);
    if (space.freeBytes < need) {
      throw new AgentError(
        'CloneNoSpace',
        `clone ${name} refused: ${mib(space.freeBytes)} free on ${space.root}, clones need at least ${mib(need)}`,
        { terminal: true, data: { clone: name, freeBytes: space.freeBytes, neededBytes: need } },
      );
    }
  }

  private production(): DesiredState {
    const production = this.options.production();
    if (production === undefined) {
      throw new AgentError('CloneFailed', 'production has no applied revision yet: nothing to clone', {
        data: {},
      });
    }
    return production;
  }

  /** One operation at a time per clone; the next waits for the one in progress. */
  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.working.get(name) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(fn);
    const held = run.catch(() => undefined);
    this.working.set(name, held);
    void held.then(() => {
      if (this.working.get(name) === held) this.working.delete(name);
    });
    return run;
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}

/** The driver with its `app.migrate` steps timed (the migration's duration for pre-flight). */
function timedMigration(driver: MachineDriver, spent: { ms?: number }): MachineDriver {
  const executors = driver.executors;
  return {
    observe: (owner, options) => driver.observe(owner, options),
    executors: {
      ...executors,
      'app.migrate': async (step, ctx) => {
        // Wall time, not the (injectable) clock: this is a measurement.
        const started = performance.now();
        try {
          return await executors['app.migrate'](step, ctx);
        } finally {
          spent.ms = (spent.ms ?? 0) + Math.round(performance.now() - started);
        }
      },
    },
    ...(driver.recoverers === undefined ? {} : { recoverers: driver.recoverers }),
    ...(driver.sweep === undefined ? {} : { sweep: (o, opts) => driver.sweep?.(o, opts) ?? Promise.resolve() }),
    ...(driver.settled === undefined ? {} : { settled: (d, l) => driver.settled?.(d, l) ?? Promise.resolve() }),
  };
}
