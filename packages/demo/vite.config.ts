import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page: packages/demo/page → packages/demo/dist/page (served by dist/server/main.js).
export default defineConfig({
  root: fileURLToPath(new URL('./page', import.meta.url)),
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist/page', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
});
