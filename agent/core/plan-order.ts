import { AgentError } from './errors.ts';
import type { Action, Step } from './steps.ts';

// Among steps that are free to run, this rank decides: set up, download, clear away, change
// the database, then (re)start containers, and drop networks last. Downloads before anything
// disruptive keeps the time a service is down short.
const RANK: { [A in Action]: number } = {
  'network.create': 0,
  'volume.create': 0,
  'image.pull': 1,
  'container.stop': 2,
  'container.remove': 2,
  'snapshot.create': 3,
  'snapshot.restore': 4,
  'app.migrate': 4,
  'app.reverse-migrate': 4,
  'data.recover': 4,
  'container.rename': 5,
  'container.start': 6,
  'container.create': 6,
  'container.replace': 6,
  'network.remove': 7,
  // Placed by their `after` (service page before the app stops, routes after it is healthy).
  'ingress.load': 0,
};

/**
 * Orders steps so that every step comes after the steps in its `after` (a topological order),
 * breaking ties by rank and then by the order the planner produced them. Throws `PlanCycle`
 * (a bug in the planner) when the `after` relation has a cycle or names an unknown step.
 */
export function orderSteps(steps: readonly Step[]): Step[] {
  const byId = new Map(steps.map((s, i) => [s.id, { step: s, index: i }]));
  const waiting = new Map<string, number>();
  const dependants = new Map<string, string[]>();
  for (const s of steps) {
    const deps = [...new Set(s.after)];
    for (const d of deps) {
      if (!byId.has(d)) throw new AgentError('PlanCycle', `step ${s.id} waits for unknown step ${d}`);
      dependants.set(d, [...(dependants.get(d) ?? []), s.id]);
    }
    waiting.set(s.id, deps.length);
  }
  const ready = steps.filter((s) => waiting.get(s.id) === 0).map((s) => s.id);
  const out: Step[] = [];
  const key = (id: string): [number, number] => {
    const e = byId.get(id);
    return e === undefined ? [0, 0] : [RANK[e.step.action], e.index];
  };
  while (ready.length > 0) {
    ready.sort((a, b) => {
      const [ra, ia] = key(a);
      const [rb, ib] = key(b);
      return ra - rb || ia - ib;
    });
    const id = ready.shift() as string;
    const entry = byId.get(id);
    if (entry !== undefined) out.push(entry.step);
    for (const d of dependants.get(id) ?? []) {
      const left = (waiting.get(d) ?? 0) - 1;
      waiting.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (out.length !== steps.length) {
    const stuck = steps.filter((s) => !out.includes(s)).map((s) => s.id);
    throw new AgentError('PlanCycle', `steps wait for each other: ${stuck.join(', ')}`, { data: { steps: stuck } });
  }
  return out;
}

/** True when every step's `after` names only steps placed before it. */
export function isTopological(steps: readonly Step[]): boolean {
  const seen = new Set<string>();
  for (const s of steps) {
    if (!s.after.every((d) => seen.has(d))) return false;
    seen.add(s.id);
  }
  return true;
}

/** What `wireAfter` needs to know about a step beyond its arguments. */
export interface StepMeta {
  service?: string;
  dependsOn?: string[];
  /** Ids of the set-up steps (network, volume, image) a container step needs, if planned. */
  uses?: string[];
  /** Ids of further steps it waits for, if planned (a snapshot, the migration gate). */
  extraAfter?: string[];
}

/**
 * Fills in each step's `after`: container steps wait for their networks, volumes and image,
 * for a rename of the same service, for every removal (names and ports are freed first) and
 * for the steps of the services they depend on; removals wait for the removals of their
 * dependants; network removals wait for every container step. Stops for a database change
 * wait for every download; database steps wait like container steps for what their one-off
 * container uses and for the database service. Every step also waits for its `extraAfter`.
 */
export function wireAfter(steps: Step[], meta: ReadonlyMap<string, StepMeta>): void {
  const ids = (pred: (s: Step, m: StepMeta) => boolean): string[] =>
    steps.filter((s) => pred(s, meta.get(s.id) ?? {})).map((s) => s.id);
  const planned = new Set(steps.map((s) => s.id));
  const removals = ids((s) => s.action === 'container.remove');
  const serviceSteps = (deps: ReadonlySet<string>): string[] =>
    ids(
      (o, om) =>
        (o.action === 'container.create' || o.action === 'container.replace' || o.action === 'container.start') &&
        om.service !== undefined &&
        deps.has(om.service),
    );
  for (const s of steps) {
    const m = meta.get(s.id) ?? {};
    const extra = (m.extraAfter ?? []).filter((id) => planned.has(id));
    if (s.action === 'container.stop') {
      s.after = ids((o) => o.action === 'image.pull');
    } else if (s.action === 'snapshot.create' || s.action === 'snapshot.restore') {
      s.after = extra;
    } else if (s.action === 'app.migrate' || s.action === 'app.reverse-migrate' || s.action === 'data.recover') {
      const uses = new Set(m.uses ?? []);
      s.after = [...ids((o) => uses.has(o.id)), ...removals, ...serviceSteps(new Set(m.dependsOn ?? [])), ...extra];
    } else if (s.action === 'container.remove') {
      s.after = ids(
        (o, om) =>
          o.action === 'container.remove' && m.service !== undefined && (om.dependsOn ?? []).includes(m.service),
      );
    } else if (s.action === 'network.remove') {
      s.after = ids((o) => o.action.startsWith('container.'));
    } else if (s.action === 'container.create' || s.action === 'container.replace' || s.action === 'container.start') {
      const uses = new Set(m.uses ?? []);
      const deps = new Set(m.dependsOn ?? []);
      s.after = [
        ...ids((o) => uses.has(o.id)),
        ...ids((o, om) => o.action === 'container.rename' && om.service === m.service),
        ...removals,
        ...ids(
          (o, om) =>
            o.action !== 'container.remove' &&
            o.action !== 'container.stop' &&
            o.action.startsWith('container.') &&
            om.service !== undefined &&
            deps.has(om.service),
        ),
        ...extra,
      ];
    }
    s.after = [...new Set(s.after)];
  }
}
