import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

// Tests import the workspace packages by their public names; the aliases point
// those names at the TypeScript sources so a test run never needs a stale build.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@rxmux\/core\/protocol$/, replacement: src('./packages/core/src/protocol/index.ts') },
      { find: /^@rxmux\/core\/debug$/, replacement: src('./packages/core/src/debug/index.ts') },
      { find: /^@rxmux\/core\/events$/, replacement: src('./packages/core/src/events/index.ts') },
      { find: /^@rxmux\/core\/testing$/, replacement: src('./packages/core/src/testing/index.ts') },
      { find: /^@rxmux\/core$/, replacement: src('./packages/core/src/index.ts') },
      { find: /^@rxmux\/elements\/define$/, replacement: src('./packages/elements/src/define.ts') },
      { find: /^@rxmux\/elements$/, replacement: src('./packages/elements/src/index.ts') },
      { find: /^@rxmux\/server$/, replacement: src('./packages/server/src/index.ts') },
      { find: /^@rxmux\/redis$/, replacement: src('./packages/redis/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'devtools-extension/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
