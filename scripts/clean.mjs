// `npm run clean`: removes every workspace's build output (dist/ and the
// tsbuildinfo files), including output of sources that no longer exist, which
// `tsc -b --clean` leaves behind (and `npm pack` would ship).
import { readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const folders = [...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p)), join(root, 'devtools-extension')];
for (const folder of folders) {
  if (!existsSync(join(folder, 'package.json'))) continue;
  rmSync(join(folder, 'dist'), { recursive: true, force: true });
  for (const file of readdirSync(folder)) if (file.endsWith('.tsbuildinfo')) rmSync(join(folder, file), { force: true });
}
console.log('[rxmux] removed dist/ of every workspace');
