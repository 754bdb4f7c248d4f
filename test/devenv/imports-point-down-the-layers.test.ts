import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Linter } from 'eslint';
import { importCycles, importGraph } from '../../devenv/import-cycles.ts';

const root = path.resolve(import.meta.dirname, '../..');
const configUrl = pathToFileURL(path.join(root, 'eslint.config.js')).href;
const config = ((await import(configUrl)) as { default: Linter.Config[] }).default;
// Only the fences: the rest of the config needs type information, which a snippet has not.
const fences = config.filter((c) => c.rules?.['no-restricted-imports'] !== undefined);
const linter = new Linter({ configType: 'flat', cwd: root });

function fenced(file: string, specifier: string): boolean {
  const messages = linter.verify(`import { x } from '${specifier}';\nexport { x };\n`, fences, file);
  return messages.some((m) => m.ruleId === 'no-restricted-imports');
}

test('imports that point back up the layers are refused', () => {
  assert.ok(fenced('agent/drivers/docker/driver.ts', '../../engine/loop/converge.ts'), 'drivers → engine');
  assert.ok(fenced('agent/drivers/docker/driver.ts', '../../machine/machine.ts'), 'drivers → machine');
  assert.ok(fenced('agent/machine/machine.ts', '../engine/loop/journal.ts'), 'machine → engine');
  assert.ok(fenced('agent/backup/restore.ts', '../engine/loop/journal.ts'), 'backup → engine');
  assert.ok(fenced('agent/engine/loop/cycle.ts', '../../cli/program.ts'), 'engine → cli');
  assert.ok(fenced('agent/lib/exec.ts', '../drivers/docker/client.ts'), 'lib → drivers');
  assert.ok(fenced('agent/core/plan.ts', '../lib/log.ts'), 'core → lib');
  assert.ok(fenced('agent/core/plan.ts', 'pino'), 'core → a package');
  assert.ok(fenced('agent/core/plan.ts', 'node:fs'), 'core → node:fs');
  assert.ok(fenced('agent/engine/loop/cycle.ts', '../../../test/x.ts'), 'agent → test');
});

test('imports that point down the layers pass', () => {
  assert.ok(!fenced('agent/engine/loop/cycle.ts', '../../machine/machine.ts'));
  assert.ok(!fenced('agent/machine/machine.ts', '../drivers/docker/driver.ts'));
  assert.ok(!fenced('agent/drivers/docker/driver.ts', '../../core/executors.ts'));
  assert.ok(!fenced('agent/drivers/docker/driver.ts', '../snapshot/driver.ts'));
  assert.ok(!fenced('agent/core/spec-hash.ts', 'node:crypto'));
  assert.ok(!fenced('agent/core/plan.ts', './steps.ts'));
  assert.ok(!fenced('agent/cli/apply.ts', '../engine/loop/converge.ts'));
});

test('scripts, bench and test reach each other only through devenv', () => {
  assert.ok(fenced('scripts/demo.ts', '../test/engine/x.ts'));
  assert.ok(fenced('bench/converge.ts', '../test/e2e/helpers.ts'));
  assert.ok(fenced('test/cli/x.test.ts', '../../scripts/demo.ts'));
  assert.ok(fenced('devenv/fleet.ts', '../scripts/demo.ts'));
  assert.ok(!fenced('bench/converge.ts', '../devenv/fleet.ts'));
  assert.ok(!fenced('test/cli/x.test.ts', '../../devenv/fleet.ts'));
});

test('agent/ has no import cycle, and the check finds one', async () => {
  assert.deepEqual(
    importCycles(importGraph(['agent', 'devenv', 'test', 'bench', 'scripts'].map((d) => path.join(root, d)))),
    [],
  );

  const dir = await mkdtemp(path.join(tmpdir(), 'cycles-'));
  try {
    await writeFile(path.join(dir, 'a.ts'), "import type { B } from './b.ts';\nexport type A = B;\n");
    await writeFile(path.join(dir, 'b.ts'), "import {\n  c,\n} from './c.ts';\nexport type B = typeof c;\n");
    await writeFile(path.join(dir, 'c.ts'), "export { a } from './a.ts';\nexport const c = 1;\n");
    await writeFile(path.join(dir, 'd.ts'), "import { c } from './c.ts';\nexport const d = c;\n");
    const cycles = importCycles(importGraph([dir]));
    assert.deepEqual(
      cycles.map((c) => c.map((f) => path.basename(f))),
      [['a.ts', 'b.ts', 'c.ts']],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
