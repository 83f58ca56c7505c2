// Runs a TypeScript bench through Vite's module runner (Node 20 cannot strip types itself),
// with the extension's Vite config for the @rxmux/core aliases.
import { fileURLToPath } from 'node:url';
import { runnerImport } from 'vite';

const file = process.argv[2] ?? 'panel-load.ts';
await runnerImport(fileURLToPath(new URL(`./${file}`, import.meta.url)), {
  configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
  logLevel: 'warn',
});
