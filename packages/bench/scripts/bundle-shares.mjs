// What each module of @rxmux/core costs a bundle, in gzip bytes: the entry (default size/rxmux-minimal.js)
// is bundled as .size-limit.js does (esbuild, browser, ES module, minified, rxjs external), then again with
// each module replaced by an empty one; the difference is the module's share (with what only it imports).
// Run from packages/bench after npm run build: node scripts/bundle-shares.mjs [size/entry.js]
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
// The chunks a bundler splits off (the debug tap's recorder), as the size check leaves them out.
import { lazyChunks } from '../../../.size-limit.js';
const entry = readFileSync(process.argv[2] ?? 'size/rxmux-minimal.js', 'utf8');
async function size(stubs, external = true) {
  const plugin = { name: 'stub', setup(b) {
    b.onLoad({ filter: /core\/dist\/.*\.js$/ }, (args) => {
      const hit = stubs.find((s) => args.path.endsWith(s));
      if (!hit) return undefined;
      const src = readFileSync(args.path, 'utf8');
      const names = [...src.matchAll(/export (?:class|function|const|let) (\w+)/g)].map((m) => m[1]);
      return { contents: names.map((n) => `export const ${n} = undefined;`).join('\n'), loader: 'js' };
    });
  } };
  const r = await build({ stdin: { contents: entry, resolveDir: process.cwd(), loader: 'js' }, bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, external: external ? ['rxjs', 'rxjs/*'] : [], target: 'es2022', plugins: [plugin, lazyChunks], logLevel: 'silent' });
  return { gz: gzipSync(r.outputFiles[0].contents, { level: 9 }).length, inputs: Object.values(r.metafile.outputs)[0].inputs };
}
const base = await size([]);
console.log('base', base.gz);
const rows = [];
for (const [file, info] of Object.entries(base.inputs)) {
  if (!file.includes('core/dist')) continue;
  const rel = file.split('core/dist/')[1];
  const without = await size([rel]);
  rows.push([base.gz - without.gz, info.bytesInOutput, rel]);
}
rows.sort((a, b) => b[0] - a[0]);
for (const r of rows) console.log(String(r[0]).padStart(6), String(r[1]).padStart(6), r[2]);
