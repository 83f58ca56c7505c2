/**
 * Builds the unpacked extension into `dist/`, in three passes (content
 * scripts must be classic scripts, one file each, so they cannot share
 * chunks with the pages):
 *
 *   vite build                       devtools.html, panel.html (+ assets), background.js (module worker), public/
 *   vite build --mode page-hook      page-hook.js       (IIFE, MAIN world)
 *   vite build --mode content-script content-script.js  (IIFE, ISOLATED world)
 *
 * `npm run build:extension` at the root runs all three.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type UserConfig } from 'vite';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const outDir = here('./dist');
// The codec, the debug vocabulary (with frameEvent) and the debug types come from the core's sources: nothing to build first, and
// only what is imported is bundled (the protocol module has no rxjs).
const alias = [
  { find: /^@rxmux\/core\/protocol$/, replacement: here('../packages/core/src/protocol/index.ts') },
  { find: /^@rxmux\/core\/debug$/, replacement: here('../packages/core/src/debug/index.ts') },
  { find: /^@rxmux\/core$/, replacement: here('../packages/core/src/index.ts') },
];
const target = 'chrome111';

const scripts: Record<string, string> = {
  'page-hook': here('./src/page-hook/index.ts'),
  'content-script': here('./src/content-script/index.ts'),
};

export default defineConfig(({ mode }): UserConfig => {
  const entry = scripts[mode];
  if (entry !== undefined) {
    return {
      logLevel: 'warn',
      resolve: { alias },
      publicDir: false,
      build: {
        outDir,
        emptyOutDir: false,
        target,
        sourcemap: false,
        lib: { entry, formats: ['iife'], name: mode.replace(/-(.)/g, (_, c: string) => c.toUpperCase()), fileName: () => `${mode}.js` },
      },
    };
  }
  return {
    logLevel: 'warn',
    root: here('./src/devtools'),
    base: './',
    resolve: { alias },
    publicDir: here('./public'),
    build: {
      outDir,
      emptyOutDir: true,
      target,
      sourcemap: true,
      modulePreload: false,
      rolldownOptions: {
        input: {
          devtools: here('./src/devtools/devtools.html'),
          panel: here('./src/devtools/panel.html'),
          background: here('./src/background/index.ts'),
        },
        output: {
          entryFileNames: (chunk) => (chunk.name === 'background' ? 'background.js' : 'assets/[name]-[hash].js'),
        },
      },
    },
  };
});
