import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ActualState, Inventory } from '../../agent/core/actual.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import { secretValues } from '../../agent/core/desired.ts';
import { planJson, renderPlan } from '../../agent/core/plan-render.ts';
import { plan } from '../../agent/core/plan.ts';
import { GOLDEN_KEY, GOLDEN_NOW, goldenCases } from './golden-cases.ts';

// Inputs and expected outputs live in test/fixtures/plans/<case>/. UPDATE_GOLDEN=1 rewrites
// them from golden-cases.ts; review the diff before committing it.
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'plans');
const update = process.env['UPDATE_GOLDEN'] === '1';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

if (update) {
  for (const [name, c] of Object.entries(goldenCases())) {
    const dir = path.join(root, name);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'desired.json'), json(c.desired));
    await writeFile(path.join(dir, 'actual.json'), json(c.actual));
    if (c.inventory !== undefined) await writeFile(path.join(dir, 'inventory.json'), json(c.inventory));
  }
}

const cases = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);

test('every golden case has its directory', () => {
  for (const name of Object.keys(goldenCases()))
    assert.ok(cases.includes(name), `missing ${name}; run with UPDATE_GOLDEN=1`);
});

for (const name of cases) {
  test(`plan matches the golden files: ${name}`, async () => {
    const dir = path.join(root, name);
    const desired = (await readJson<DesiredState>(path.join(dir, 'desired.json'))) as DesiredState;
    const actual = (await readJson<ActualState>(path.join(dir, 'actual.json'))) as ActualState;
    const lastApplied = await readJson<Inventory>(path.join(dir, 'inventory.json'));
    const p = plan(desired, actual, {
      now: GOLDEN_NOW,
      specKey: GOLDEN_KEY,
      ...(lastApplied === undefined ? {} : { lastApplied }),
    });
    const text = renderPlan(p);
    const machine = planJson(p);
    for (const secret of secretValues(desired)) {
      assert.ok(!text.includes(secret) && !machine.includes(secret), 'a secret value is in the plan');
    }
    if (update) {
      await writeFile(path.join(dir, 'plan.txt'), text);
      await writeFile(path.join(dir, 'plan.json'), machine);
    }
    assert.equal(text, await readFile(path.join(dir, 'plan.txt'), 'utf8'));
    assert.equal(machine, await readFile(path.join(dir, 'plan.json'), 'utf8'));
  });
}
