import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { validateRepo } from '../../agent/config/validate-repo.ts';
import { tempDir } from '../../devenv/git-repo.ts';

const root = join(import.meta.dirname, '..', '..');

async function fleetWith(clones: string, appEdit?: [string, string]): Promise<string> {
  const dir = await tempDir();
  await cp(join(root, 'example-config-repo'), dir, { recursive: true });
  const file = join(dir, 'appliances/demo/appliance.yml');
  await writeFile(file, `${await readFile(file, 'utf8')}clones:\n${clones}`);
  if (appEdit !== undefined) {
    const app = join(dir, 'apps/demo/app.yml');
    const text = await readFile(app, 'utf8');
    assert.ok(text.includes(appEdit[0]));
    await writeFile(app, text.replace(appEdit[0], appEdit[1]));
  }
  return dir;
}

const issues = async (dir: string) => {
  const r = await validateRepo(dirRepoReader(dir), { names: ['demo'] });
  return {
    errors: r.errors.map((e) => `${e.path}: ${e.message}`),
    warnings: r.warnings.map((w) => `${w.path}: ${w.message}`),
  };
};

test('a valid clone is accepted without a warning (the agent runs it)', async () => {
  const r = await issues(
    await fleetWith("  - { name: qa, expires_after: 3d, settings: { DEMO_BANNER: 'QA copy' } }\n"),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, []);
});

test('clone name conflicts are errors: twice the same name, the name of a service', async () => {
  const r = await issues(await fleetWith('  - { name: qa }\n  - { name: qa }\n  - { name: web }\n'));
  assert.ok(r.errors.includes("/clones/1/name: clone 'qa' is listed twice"), r.errors.join('\n'));
  assert.ok(r.errors.includes("/clones/2/name: clone 'web' has the name of a service of the app: name it apart"));
});

test("a clone's containers may not take the names of the appliance's own containers", async () => {
  // A service named qa-web: the clone qa's web container would be demo-qa-web, the service's own name.
  const r = await issues(
    await fleetWith('  - { name: qa }\n', [
      '  web:\n    role: app',
      '  qa-web:\n    role: support\n    image: 127.0.0.1:5000/demo:v1\n    command: [serve]\n\n  web:\n    role: app',
    ]),
  );
  assert.ok(
    r.errors.includes(
      "/clones/0/name: clone 'qa' would name its web container like the appliance's own 'qa-web' container",
    ),
    r.errors.join('\n'),
  );
});

test('a clone without snapshot support (no data or database volume) is an error', async () => {
  const r = await issues(
    await fleetWith('  - { name: qa }\n', ['    kind: database\n    path: demo-postgresql', '    kind: named']),
  );
  assert.ok(
    r.errors.some((e) => e.startsWith('/clones/0: clones need snapshot support')),
    r.errors.join('\n'),
  );
});

test('a clone setting may not replace an app secret', async () => {
  const r = await issues(await fleetWith('  - { name: qa, settings: { DATABASE_PASSWORD: plain } }\n'));
  assert.ok(
    r.errors.some((e) => e.startsWith("/clones/0/settings/DATABASE_PASSWORD: 'DATABASE_PASSWORD' is an app secret")),
    r.errors.join('\n'),
  );
});
