import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * Dependencies point one way: cli → engine → machine → drivers → core (see docs/architecture.md).
 * Each folder of agent/ lists the folders it may import; every other one is fenced off, and so are
 * the development folders. A file of core/ imports only core/ (and node:crypto for hashing).
 */
const layers = {
  core: [],
  lib: ['core'],
  sops: ['core', 'lib'],
  drivers: ['core', 'lib'],
  config: ['core', 'lib', 'sops'],
  source: ['core', 'lib', 'config'],
  legacy: ['core', 'lib', 'config'],
  machine: ['core', 'lib', 'drivers'],
  backup: ['core', 'lib', 'drivers', 'machine'],
  engine: ['core', 'lib', 'config', 'machine'],
  provision: ['core', 'lib', 'config', 'sops', 'source'],
  cli: ['core', 'lib', 'sops', 'drivers', 'config', 'source', 'legacy', 'machine', 'backup', 'engine', 'provision'],
};
// scripts/ (the user's jobs), bench/ and test/ build on devenv/ and agent/, never on each other.
const devFolders = {
  devenv: ['test', 'bench', 'scripts'],
  scripts: ['test', 'bench'],
  bench: ['test', 'scripts'],
  test: ['bench', 'scripts'],
};

const fence = (folders, message) => ({
  regex: `^(\\.\\./)+(${folders.join('|')})(/|$)`,
  message,
});

function layerFences() {
  const all = Object.keys(layers);
  const agent = Object.entries(layers).map(([layer, allowed]) => {
    const banned = all.filter((f) => f !== layer && !allowed.includes(f));
    const patterns = [fence(['test', 'bench', 'scripts', 'devenv'], 'agent/ does not import the development folders.')];
    if (banned.length > 0) patterns.push(fence(banned, `${layer}/ may import only ${allowed.join(', ') || 'itself'}.`));
    if (layer === 'core') {
      patterns.push({
        regex: '^(?!\\./|node:crypto$)',
        message: 'core/ is pure: it imports only core/ (and node:crypto); side effects belong in drivers/ or machine/.',
      });
    }
    return { files: [`agent/${layer}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
  });
  const dev = Object.entries(devFolders).map(([folder, banned]) => ({
    files: [`${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [fence(banned, `${folder}/ imports ${banned.join(', ')} only through devenv/.`)] },
      ],
    },
  }));
  return [...agent, ...dev];
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'example-config-repo/', 'bin/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  ...layerFences(),
  {
    // CLI output, tests, benchmarks and scripts may print.
    files: ['agent/cli/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'devenv/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'devenv/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' },
          ],
        },
      ],
    },
  },
  { files: ['*.js'], ...tseslint.configs.disableTypeChecked },
);
