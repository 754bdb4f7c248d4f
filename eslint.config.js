import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const sideEffectModules = ['node:*', 'fs', 'child_process', 'pg', 'isomorphic-git', 'execa', 'pino', 'age-encryption'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'example-config-repo/', 'bin/'] },
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
  {
    // The planner and decision logic stay pure: no I/O libraries in core/.
    files: ['agent/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: sideEffectModules, message: 'core/ is pure: side effects belong in drivers/ or engine/.' },
          ],
        },
      ],
    },
  },
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
