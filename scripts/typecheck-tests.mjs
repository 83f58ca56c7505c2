// Type-checks every test folder that has its own tsconfig.json (vitest strips
// types without checking them). Test folders: packages/*/test, test/*, devtools-extension/test.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = [
  ...readdirSync(join(root, 'packages')).map((p) => join('packages', p, 'test')),
  ...readdirSync(join(root, 'test'), { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'node_modules').map((d) => join('test', d.name)),
  join('devtools-extension', 'test'),
].filter((dir) => existsSync(join(root, dir, 'tsconfig.json')));

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
for (const dir of dirs) {
  execFileSync(process.execPath, [tsc, '-p', dir], { cwd: root, stdio: 'inherit' });
}
console.log(`[rxmux] type-checked tests in ${dirs.length} folder(s): ${dirs.join(', ')}`);
