import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActualState } from '../../agent/core/actual.ts';
import { isTopological } from '../../agent/core/plan-order.ts';
import { plan } from '../../agent/core/plan.ts';
import type { Step } from '../../agent/core/steps.ts';
import { applyAll } from './fake-machine.ts';
import { Random, SPEC_KEY, randomActual, randomDesired } from './generate.ts';

const CASES = 400;

/** Some order that respects `after` and nothing else: `after` alone must be enough. */
function shuffledTopological(r: Random, steps: readonly Step[]): Step[] {
  const left = [...steps];
  const out: Step[] = [];
  const done = new Set<string>();
  while (left.length > 0) {
    const ready = left.filter((s) => s.after.every((d) => done.has(d)));
    const pick = r.pick(ready);
    left.splice(left.indexOf(pick), 1);
    out.push(pick);
    done.add(pick.id);
  }
  return out;
}

function foreignOf(m: ActualState): string {
  return JSON.stringify(m.foreign);
}

test('applying a plan to a fake machine converges: planning again gives no steps', () => {
  let withSteps = 0;
  let withConflicts = 0;
  let refused = 0;
  const actions = new Map<string, number>();
  for (let seed = 1; seed <= CASES; seed++) {
    const r = new Random(seed);
    const owner = `app${seed}`;
    const previous = randomDesired(r, owner);
    const next = r.chance(0.3) ? previous : randomDesired(r, owner);
    const { actual, lastApplied } = randomActual(r, previous, next);
    const options = { now: new Date(0), specKey: SPEC_KEY, lastApplied };
    const first = plan(next, actual, options);
    assert.ok(isTopological(first.steps), `seed ${seed}: steps are not in dependency order`);
    assert.equal(new Set(first.steps.map((s) => s.id)).size, first.steps.length, `seed ${seed}: duplicate step ids`);
    let after: ActualState;
    try {
      after = applyAll(actual, r.chance(0.5) ? first.steps : shuffledTopological(r, first.steps));
    } catch (err) {
      assert.fail(`seed ${seed}: ${(err as Error).message}\n${first.steps.map((s) => s.id).join('\n')}`);
    }
    assert.equal(foreignOf(after), foreignOf(actual), `seed ${seed}: objects of others changed`);
    const second = plan(next, after, options);
    assert.deepEqual(
      second.steps.map((s) => `${s.id}: ${s.reason}`),
      [],
      `seed ${seed}: not converged after ${first.steps.map((s) => s.id).join(', ')}`,
    );
    assert.deepEqual(second.conflicts, first.conflicts, `seed ${seed}: conflicts changed`);
    assert.deepEqual(second.refused, first.refused, `seed ${seed}: refusals changed`);
    if (first.steps.length > 0) withSteps++;
    if (first.conflicts.length > 0) withConflicts++;
    for (const s of first.steps) actions.set(s.action, (actions.get(s.action) ?? 0) + 1);
    if (first.refused.length > 0) refused++;
  }
  // The generator must exercise the planner, not hand it trivial cases.
  assert.ok(withSteps > CASES * 0.8, `only ${withSteps} cases had steps`);
  assert.ok(withConflicts > CASES * 0.05, `only ${withConflicts} cases had conflicts`);
  for (const a of ['app.migrate', 'container.stop', 'snapshot.create'] as const) {
    assert.ok((actions.get(a) ?? 0) > CASES * 0.05, `only ${actions.get(a) ?? 0} plans with ${a}`);
  }
  for (const a of ['app.reverse-migrate', 'snapshot.restore'] as const) {
    assert.ok((actions.get(a) ?? 0) > 0, `no plan with ${a}`);
  }
  assert.ok(refused > CASES * 0.02, `only ${refused} plans refused something`);
});

test('no plan removes a volume; every destructive step waits for a snapshot', () => {
  for (let seed = 1; seed <= CASES; seed++) {
    const r = new Random(seed * 7919);
    const previous = randomDesired(r, 'app');
    const next = randomDesired(r, 'app');
    const { actual, lastApplied } = randomActual(r, previous, next);
    const p = plan(next, actual, { now: new Date(0), specKey: SPEC_KEY, lastApplied });
    const snapshots = new Set(p.steps.filter((s) => s.action === 'snapshot.create').map((s) => s.id));
    assert.deepEqual(
      p.steps.filter((s) => s.risk === 'destructive' && !s.after.some((id) => snapshots.has(id))).map((s) => s.id),
      [],
      `seed ${seed}: destructive without a snapshot first`,
    );
    for (const v of actual.volumes) {
      const kept = next.app.volumes.some((d) => `app-${d.name}` === v.name) || p.orphans.some((o) => o.name === v.name);
      assert.ok(kept, `seed ${seed}: volume ${v.name} neither desired nor reported`);
    }
  }
});

test('a plan is a pure function of its inputs', () => {
  const r = new Random(42);
  const desired = randomDesired(r, 'app');
  const { actual, lastApplied } = randomActual(r, desired, desired);
  const before = JSON.stringify({ desired, actual, lastApplied });
  const a = plan(desired, actual, { now: new Date(0), specKey: SPEC_KEY, lastApplied });
  const b = plan(desired, actual, { now: new Date(0), specKey: SPEC_KEY, lastApplied });
  assert.deepEqual(a, b);
  assert.equal(JSON.stringify({ desired, actual, lastApplied }), before, 'plan() changed its inputs');
});
