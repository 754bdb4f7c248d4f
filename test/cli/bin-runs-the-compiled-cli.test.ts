import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../agent/lib/exec.ts';
import { tempDir } from '../../devenv/git-repo.ts';

const projectRoot = join(import.meta.dirname, '..', '..');

test('npm ci builds dist/ through prepare, and the bin runs it without the TypeScript loader', async (t) => {
  const pkg = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    files: string[];
  };
  assert.equal(pkg.scripts['prepare'], 'npm run build');
  assert.ok(pkg.files.includes('dist'), 'a package carries dist/');

  // A copy of the package layout: bin/, and dist/ built from the sources as `npm run build` does.
  const root = await tempDir('appliance-bin-');
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'bin'));
  await copyFile(join(projectRoot, 'bin', 'appliance.js'), join(root, 'bin', 'appliance.js'));
  await symlink(join(projectRoot, 'node_modules'), join(root, 'node_modules'));
  const bin = join(root, 'bin', 'appliance.js');

  const missing = await run(process.execPath, [bin, '--version'], { okCodes: [2] });
  assert.match(missing.stderr, /dist\/ is missing; run `npm run build`/);

  const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', join(projectRoot, 'tsconfig.build.json'), '--outDir', join(root, 'dist')], {
    timeoutMs: 300_000,
  });
  // No loader: node 20 cannot import a .ts file, so these run only what dist/ holds.
  const env = { NODE_OPTIONS: '' };
  const version = await run(process.execPath, [bin, '--version'], { env });
  assert.equal(version.stdout.trim(), '0.1.0');
  // validate loads the JSON schemas, which the build places in dist/schema.
  const validate = await run(process.execPath, [bin, 'validate', join(projectRoot, 'example-config-repo')], { env });
  assert.match(validate.stdout, /^ok: 2 appliances .* 0 errors/m);
  const help = await run(process.execPath, [bin, 'backup', 'run', '--help'], { env });
  assert.match(help.stdout, /Usage: appliance backup run/);
});
