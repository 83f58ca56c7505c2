// Makes `npm test` work on a fresh clone: installs npm packages when they are missing.
// Kept dependency-free on purpose: it runs before anything is installed.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const installed = existsSync(new URL('node_modules/.package-lock.json', root)) &&
  existsSync(new URL('node_modules/vitest/package.json', root));
if (!installed) {
  const cmd = existsSync(new URL('package-lock.json', root)) ? 'npm ci' : 'npm install';
  console.log(`[rxmux] node_modules missing: running ${cmd}`);
  execSync(`${cmd} --no-audit --no-fund`, { cwd: root, stdio: 'inherit' });
}
