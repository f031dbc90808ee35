// ESLint with typescript-eslint's type-aware rules (they read tsconfig.json): the promise and
// type rules catch what the compiler does not — a promise nothing awaits or catches ends a
// Node 20 process — and import-x's no-cycle keeps the layers pointing one way.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'docs/**', '**/*.js', '**/*.mjs', 'common/port-forward/fuzz/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    // The TypeScript resolver maps each `./x.js` specifier to its `./x.ts`, so no-cycle sees the real graph.
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver()],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts'],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A default branch is a decision too: it covers what the cases do not name.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'import-x/no-cycle': 'error',
      // An async function without await still promises what its interface says; not a defect.
      '@typescript-eslint/require-await': 'off',
      // zod is configured in one place, before any schema is built (common/zod.ts).
      'no-restricted-imports': ['error', { paths: [{ name: 'zod', message: "import * as z from common/zod.js: it sets zod's configuration before any schema is built" }] }],
    },
  },
  {
    files: ['common/zod.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Tests and benchmarks read answers as JSON (what a user's tool would see) and check
    // them field by field; typing each one would say nothing the assertion does not.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
