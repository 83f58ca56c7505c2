/**
 * The packages as a user gets them: `npm pack` of each published package,
 * installed into a scratch project in a temporary folder, and used there.
 *
 * - the tarballs hold what they should (LICENSE, README, the build and its
 *   sources), nothing else (no tests), source maps that resolve, no
 *   `@internal` declaration, a protocol entry point without rxjs;
 * - the READMEs' examples (extracted as written) type-check under strict
 *   TypeScript, `skipLibCheck: false`, with `moduleResolution` `nodenext`,
 *   `node16`, `bundler` and `node` (node10);
 * - the server quick start runs on 127.0.0.1, and the Node client example
 *   makes a request/reply round trip with it;
 * - CommonJS `require()`s every entry point (Node ≥ 20.19), and a `.cts`
 *   file compiled by TypeScript makes the same round trip.
 *
 * No network: the tarballs install with `npm install --offline` and an empty
 * cache, the third-party packages (rxjs, ws, their types, lit) are linked
 * from the repository's own `node_modules` (`file:`), as `npm ci` left them.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputMatching, stopProcess } from '../support/process.js';
import { ENTRY_POINTS } from './entry-points.js';
import { APP_DECLARATIONS, EXPRESS_DECLARATIONS, readmeExamples } from './readme-examples.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url);
const root = fileURLToPath(ROOT);
const TSC = join(root, 'node_modules/typescript/bin/tsc');

/** The published packages, by folder. */
const PACKAGES = ['core', 'server', 'elements', 'redis'] as const;
/** What the scratch project takes from the repository's node_modules instead of the registry. */
const LINKED = ['rxjs', 'ws', '@types/node', '@types/ws', 'lit', 'ioredis'];
/** What a tarball may hold at its top level. */
const TOP_LEVEL = new Set(['dist', 'src', 'LICENSE', 'README.md', 'package.json', 'custom-elements.json']);

interface PackResult {
  readonly name: string;
  readonly filename: string;
  readonly size: number;
  readonly files: readonly { readonly path: string }[];
}

interface PackageJson {
  readonly name: string;
  readonly main: string;
  readonly types: string;
  readonly sideEffects: boolean | readonly string[];
  readonly engines: { readonly node: string };
  readonly exports: Readonly<Record<string, string | Readonly<Record<string, string>>>>;
  readonly typesVersions?: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

let scratch = '';
const packs = new Map<string, PackResult>();
const installed = (name: string, ...path: string[]): string => join(scratch, 'node_modules', name, ...path);

const node = (script: string, env: Record<string, string> = {}): Promise<{ stdout: string }> =>
  run(process.execPath, [script], { cwd: scratch, env: { ...process.env, ...env }, timeout: 20_000 });
const tsc = (project: string): Promise<unknown> =>
  run(process.execPath, [TSC, '-p', project], { cwd: scratch, timeout: 60_000 }).catch((error: unknown) => {
    const { stdout = '' } = error as { stdout?: string };
    throw new Error(`tsc -p ${project} failed:\n${stdout}`);
  });

/** Creates `dir` (and its parents) if needed; returns it. */
function mkdir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Every file below `dir`, as paths relative to it. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

beforeAll(async () => {
  // tsc -b is incremental: nothing to do after `npm run build`, and never a stale dist when run alone.
  await run(process.execPath, [TSC, '-b', ...PACKAGES.map((p) => `packages/${p}`)], { cwd: root });
  scratch = mkdtempSync(join(tmpdir(), 'rxmux-pack-'));
  for (const pkg of PACKAGES) {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: join(root, 'packages', pkg) });
    const [result] = JSON.parse(stdout) as PackResult[];
    if (result === undefined) throw new Error(`npm pack of ${pkg} said nothing`);
    packs.set(result.name, result);
  }
  const dependencies: Record<string, string> = {};
  for (const p of packs.values()) dependencies[p.name] = `file:./${p.filename}`;
  for (const name of LINKED) dependencies[name] = `file:${join(root, 'node_modules', name)}`;
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies }, null, 2));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', '--cache', join(scratch, '.npm')], { cwd: scratch, timeout: 60_000 });
}, 120_000);

afterAll(() => {
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

describe.each(PACKAGES.map((p) => `@rxmux/${p}`))('the %s tarball', (name) => {
  const files = (): string[] => packs.get(name)?.files.map((f) => f.path) ?? [];

  it('holds the build, its sources, LICENSE and README, and no tests', () => {
    expect(files()).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']));
    expect(files().filter((f) => !TOP_LEVEL.has(f.split('/')[0] ?? ''))).toEqual([]);
    expect(files().filter((f) => /(^|\/)(test|tests|__tests__)\/|\.(test|spec)\.[cm]?[jt]s$/.test(f))).toEqual([]);
    expect(readFileSync(installed(name, 'LICENSE'), 'utf8')).toBe(readFileSync(new URL('LICENSE', ROOT), 'utf8'));
  });

  it('has a source for every build output, and source maps that point at files it holds', () => {
    const all = new Set(files());
    const stale = files().filter((f) => /^dist\/.*\.js$/.test(f) && !all.has(f.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')));
    expect(stale, 'dist holds output of sources that no longer exist (an older build): npm run clean && npm run build').toEqual([]);
    const missing = files()
      .filter((f) => f.endsWith('.map'))
      .flatMap((map) => {
        const { sources } = JSON.parse(readFileSync(installed(name, map), 'utf8')) as { sources: string[] };
        return sources.map((source) => relative(installed(name), resolve(dirname(installed(name, map)), source))).filter((source) => !all.has(source));
      });
    expect(missing).toEqual([]);
  });

  it('publishes no @internal declaration', () => {
    const leaks = files().filter((f) => f.endsWith('.d.ts') && readFileSync(installed(name, f), 'utf8').includes('@internal'));
    expect(leaks).toEqual([]);
  });

  it('declares its entry points, types first, with fallbacks for moduleResolution node', () => {
    const pkg = JSON.parse(readFileSync(installed(name, 'package.json'), 'utf8')) as PackageJson;
    expect(pkg.engines.node).toBe('^20.19.0 || >=22.12.0');
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(Object.keys(target), subpath).toEqual(['types', 'default']);
      for (const file of Object.values(target)) expect(existsSync(installed(name, file)), `${subpath}: ${file}`).toBe(true);
    }
    expect(pkg.exports['.']).toEqual({ types: pkg.types, default: pkg.main });
    // node10 reads typesVersions for subpaths: one entry for every typed subpath, pointing at the same file.
    const typed = Object.entries(pkg.exports).filter(([subpath, target]) => subpath !== '.' && typeof target !== 'string');
    expect(Object.fromEntries(typed.map(([subpath, target]) => [subpath.slice(2), [(target as Record<string, string>).types]]))).toEqual(pkg.typesVersions?.['*'] ?? {});
  });
});

describe('the packages in a scratch project', () => {
  it('mark side effects where there are some: none in core, server and redis, define in elements', () => {
    const sideEffects = (name: string): PackageJson['sideEffects'] => (JSON.parse(readFileSync(installed(name, 'package.json'), 'utf8')) as PackageJson).sideEffects;
    expect(sideEffects('@rxmux/core')).toBe(false);
    expect(sideEffects('@rxmux/server')).toBe(false);
    expect(sideEffects('@rxmux/redis')).toBe(false);
    expect(sideEffects('@rxmux/elements')).toContain('./dist/define.js');
  });

  it('keep rxjs out of the protocol and debug entry points (what servers and debuggers load)', () => {
    for (const dir of ['protocol', 'debug']) {
      const base = installed('@rxmux/core', 'dist', dir);
      for (const file of walk(base).filter((f) => f.endsWith('.js'))) {
        const imports = [...readFileSync(join(base, file), 'utf8').matchAll(/\b(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] ?? '');
        const outside = imports.filter((i) => !i.startsWith('.') || !/\/dist\/(protocol|debug)\//.test(resolve(base, dirname(file), i)));
        expect(outside, `${dir}/${file}`).toEqual([]);
      }
    }
  });
});

/** The scratch project's TypeScript settings: strict, and the published types checked too (`skipLibCheck: false`). */
const STRICT = {
  target: 'ES2022',
  lib: ['ES2022', 'DOM', 'DOM.Iterable'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  skipLibCheck: false,
  forceConsistentCasingInFileNames: true,
};

/**
 * One project per module resolution; nodenext also emits what the run tests
 * execute, CommonJS (`.cts`) included. `node-commonjs` is the legacy Node
 * setup (module commonjs, node10 resolution) in a CommonJS package of its own:
 * it compiles `import` to `require()` without knowing the packages are ESM.
 */
const PROJECTS = {
  nodenext: { compilerOptions: { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext', rootDir: 'src', outDir: 'out' }, include: ['src/**/*.ts', 'src/**/*.cts'] },
  node16: { compilerOptions: { ...STRICT, module: 'node16', moduleResolution: 'node16', noEmit: true }, include: ['src/**/*.ts'] },
  bundler: { compilerOptions: { ...STRICT, module: 'esnext', moduleResolution: 'bundler', noEmit: true }, include: ['src/**/*.ts'] },
  node: { compilerOptions: { ...STRICT, module: 'esnext', moduleResolution: 'node', noEmit: true }, include: ['src/**/*.ts'] },
  'node-commonjs': { compilerOptions: { ...STRICT, module: 'commonjs', moduleResolution: 'node', rootDir: 'legacy/src', outDir: 'legacy/out' }, include: ['legacy/src/*.ts'] },
} as const;

/** A CommonJS module in TypeScript: `import` compiles to `require()` of the ES modules (TypeScript ≥ 5.8 with module nodenext, or module commonjs). */
const COMMONJS_ROUND_TRIP = `import { connect } from '@rxmux/core';
import { SUBPROTOCOL } from '@rxmux/core/protocol';
import { createServer } from '@rxmux/server';
import { firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';

async function main(): Promise<void> {
  const server = createServer({ port: 0, host: '127.0.0.1' });
  server.handle('echo', { onRequest: (_ctx, data) => data });
  await server.ready();
  const conn = connect(\`ws://127.0.0.1:\${server.port}/rt\`, { WebSocket, shared: false });
  console.log(JSON.stringify(await firstValueFrom(conn.channel('echo').request({ from: 'commonjs', subprotocol: SUBPROTOCOL }))));
  conn.close();
  await server.close();
}
void main();
`;

/** Lists the runtime exports of every entry point, loaded with `require` (CommonJS) or `import` (ESM). */
const listExports = (load: string): string => `const out = {};
for (const entry of ${JSON.stringify(Object.keys(ENTRY_POINTS))}) out[entry] = Object.keys(${load}(entry)).sort();
console.log(JSON.stringify(out));
`;

describe('the README examples, compiled and run against the tarballs', () => {
  const examples = readmeExamples(ROOT.href);
  let emitted: Promise<unknown> | undefined;
  const emit = (): Promise<unknown> => (emitted ??= tsc('tsconfig.nodenext.json'));

  beforeAll(() => {
    const src = join(scratch, 'src');
    for (const example of examples) writeFileSync(join(mkdir(src), example.file), example.code);
    writeFileSync(join(src, 'app.d.ts'), APP_DECLARATIONS);
    writeFileSync(join(src, 'express.d.ts'), EXPRESS_DECLARATIONS);
    writeFileSync(join(src, 'commonjs.cts'), COMMONJS_ROUND_TRIP);
    writeFileSync(join(mkdir(join(scratch, 'legacy', 'src')), 'commonjs.ts'), COMMONJS_ROUND_TRIP);
    writeFileSync(join(scratch, 'legacy', 'package.json'), JSON.stringify({ type: 'commonjs' }));
    // Every entry point resolves, subpaths included (node10 through typesVersions).
    writeFileSync(join(src, 'entry-points.ts'), Object.keys(ENTRY_POINTS).map((entry, i) => `export * as entry${i} from '${entry}';\n`).join(''));
    writeFileSync(join(scratch, 'list-exports.cjs'), listExports('require'));
    writeFileSync(join(scratch, 'list-exports.mjs'), `const load = async (entry) => import(entry);\n${listExports('await load')}`);
    for (const [name, project] of Object.entries(PROJECTS)) writeFileSync(join(scratch, `tsconfig.${name}.json`), JSON.stringify(project, null, 2));
  });

  it('finds the examples: the quick starts of the root README and every package README', () => {
    const files = examples.map((e) => e.file);
    expect(files).toEqual(expect.arrayContaining(['root-in-a-page-1.ts', 'root-in-node-1.ts', 'core-example-1.ts', 'core-in-node-1.ts', 'server-quick-start-1.ts', 'elements-with-lit-1.ts']));
    expect(new Set(files).size).toBe(files.length);
  });

  let legacy: Promise<unknown> | undefined;
  const emitLegacy = (): Promise<unknown> => (legacy ??= tsc('tsconfig.node-commonjs.json'));

  it.each(Object.keys(PROJECTS))('type-check: %s', async (name) => {
    await (name === 'nodenext' ? emit() : name === 'node-commonjs' ? emitLegacy() : tsc(`tsconfig.${name}.json`));
  }, 90_000);

  it('run: the Node client example gets its reply from the server quick start', async () => {
    await emit();
    const server = spawn(process.execPath, ['out/server-quick-start-1.js'], { cwd: scratch, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const [, url = ''] = await outputMatching(server, /rxmux on (ws:\/\/127\.0\.0\.1:\d+\/rt)/, 20_000);
      const { stdout } = await node('out/core-in-node-1.js', { RXMUX_URL: url }); // exits by itself: conn.close() released the socket
      expect(stdout).toContain("reply { text: 'hello' }");
    } finally {
      await stopProcess(server);
    }
  }, 60_000);

  it('CommonJS: require() loads every entry point, and TypeScript compiled to CommonJS makes the round trip', async () => {
    await Promise.all([emit(), emitLegacy()]);
    const required = JSON.parse((await node('list-exports.cjs')).stdout) as unknown;
    const imported = JSON.parse((await node('list-exports.mjs')).stdout) as unknown;
    const expected = Object.fromEntries(Object.entries(ENTRY_POINTS).map(([entry, names]) => [entry, [...names].sort()]));
    expect(required).toEqual(expected);
    expect(imported).toEqual(expected);
    const reply = '{"from":"commonjs","subprotocol":"rxmux.v1"}';
    expect((await node('out/commonjs.cjs')).stdout.trim()).toBe(reply); // a .cts file, module nodenext
    expect((await node('legacy/out/commonjs.js')).stdout.trim()).toBe(reply); // module commonjs, moduleResolution node
  }, 60_000);
});
