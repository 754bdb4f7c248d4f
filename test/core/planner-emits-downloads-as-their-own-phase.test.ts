import assert from 'node:assert/strict';
import { test } from 'node:test';
import { downloadPhase, plan } from '../../agent/core/plan.ts';
import { PHASE } from '../../agent/core/steps.ts';
import { applyAll } from './fake-machine.ts';
import { GOLDEN_KEY, GOLDEN_NOW, goldenCases } from './golden-cases.ts';

const options = { now: GOLDEN_NOW, specKey: GOLDEN_KEY };

test('a plan with downloads and changes has a download phase of exactly its downloads, without waits', () => {
  let seen = 0;
  for (const [name, c] of Object.entries(goldenCases())) {
    const p = plan(c.desired, c.actual, {
      ...options,
      ...(c.inventory === undefined ? {} : { lastApplied: c.inventory }),
    });
    const downloads = p.steps.filter((s) => PHASE[s.action] === 'download');
    const phase = downloadPhase(p);
    if (downloads.length === 0 || downloads.length === p.steps.length) {
      assert.equal(phase, undefined, name);
      continue;
    }
    seen++;
    assert.ok(phase !== undefined, name);
    assert.deepEqual(
      phase.steps.map((s) => s.id),
      downloads.map((s) => s.id),
      name,
    );
    assert.ok(
      phase.steps.every((s) => s.action === 'image.pull' && s.after.length === 0),
      name,
    );
    // After the download phase, planning again leaves no download.
    const after = plan(c.desired, applyAll(c.actual, phase.steps), {
      ...options,
      ...(c.inventory === undefined ? {} : { lastApplied: c.inventory }),
    });
    assert.equal(after.steps.filter((s) => PHASE[s.action] === 'download').length, 0, name);
  }
  assert.ok(seen >= 2, `only ${seen} golden cases download and change`);
});
