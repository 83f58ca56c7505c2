// Makes `npm test` work on a fresh clone: installs npm packages when they are missing.
// Kept dependency-free on purpose: it runs before anything is installed.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url);
// One package per kind of tool a script needs: the test runner, the size check, a size comparison.
const installed = ['.package-lock.json', 'vitest/package.json', 'size-limit/package.json', 'centrifuge/package.json'].every((file) =>
  existsSync(new URL(`node_modules/${file}`, root)),
);
if (!installed) {
  const cmd = existsSync(new URL('package-lock.json', root)) ? 'npm ci' : 'npm install';
  console.log(`[rxmux] node_modules missing: running ${cmd}`);
  execSync(`${cmd} --no-audit --no-fund`, { cwd: root, stdio: 'inherit' });
}
