// Type-aware lint for every TypeScript file of the workspace: typescript-eslint's
// strict and stylistic type-checked configs, zero warnings allowed (`npm run lint`,
// part of `npm test`). The few options below are choices between two of those
// rules' own modes, each explained; nothing is switched off to make code pass.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'test-artifacts/**', 'packages/bench/results/**', '**/*.mjs', '**/*.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.config.ts', 'packages/*/vite.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Numbers in messages and URLs are what templates are for; objects and undefined are still refused.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(x) => void list.push(x)`, `() => sub.unsubscribe()` and `return done()` in a void function are the idiom for nothing returned.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidOperator: true, ignoreVoidReturningFunctions: true }],
      // strictTypeChecked forbids `x!`; this stylistic rule would ask for it instead of `x as T`. The strict rule wins.
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
    },
  },
  {
    // A test may state what it just arranged: `fake.sockets[1]!` is an assertion of the test's own setup.
    files: ['**/test/**/*.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
