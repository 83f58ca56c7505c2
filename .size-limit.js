// Bundle-size budgets (`npm run size`, part of `npm test`; issue 15.7), measured with size-limit's esbuild
// plugin: the entry bundled for the browser as an ES module, minified, gzipped (level 9), nothing fetched.
// The entries are the files of packages/bench/size/: the same page written against each library. The
// entries without a `limit` are the comparisons `npm run bench -- --scenario bundle` tabulates
// (socket.io-client, centrifuge, RxJS webSocket().multiplex); they never fail the check.
// Budgets sit a few percent above the measured size (README, Performance): a change that grows the
// client past them fails the build and says by how much. Chunked transfers (issue 15.5: protocol v2, the
// chunker, window and reassembler in every client) raised the connect()+channel() entries by 4.3 kB;
// issue 15.1-4's request Deadlines and the Node message path add 0.21 kB; the debug tap's recorder
// leaving the entry for a chunk loaded when a debugger listens took 0.8 kB off (20.69 -> 19.89 kB).

/**
 * The debug tap's code (`debug/recorder.js`) is loaded with a dynamic `import()` when a debugger first
 * listens; every bundler makes it a chunk of its own, which a page nobody debugs never fetches. esbuild
 * without code splitting would inline it, so the entries leave it out (the `import()` stays); the
 * bundle-shares script (packages/bench/scripts) uses the same plugin.
 */
export const lazyChunks = {
  name: 'lazy-chunks',
  setup(build) {
    build.onResolve({ filter: /\/recorder\.js$/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined));
  },
};

/** One esbuild setup for every entry: an ES module for today's browsers. */
const modifyEsbuildConfig = (config) => ({ ...config, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent', plugins: [...(config.plugins ?? []), lazyChunks] });

const RXJS = ['rxjs', 'rxjs/*'];

const entry = (name, file, { limit, ignore } = {}) => ({
  name,
  path: `packages/bench/size/${file}`,
  gzip: true,
  modifyEsbuildConfig,
  ...(ignore === undefined ? {} : { ignore }),
  ...(limit === undefined ? {} : { limit }),
});

export default [
  entry('@rxmux/core connect().channel().subscribe(), rxjs external', 'rxmux-minimal.js', { ignore: RXJS, limit: '20.2 kB' }),
  entry('@rxmux/core connect().channel().subscribe(), rxjs bundled', 'rxmux-minimal.js', { limit: '28.2 kB' }),
  entry('@rxmux/core with events(), rxjs external', 'rxmux-events.js', { ignore: RXJS, limit: '23.8 kB' }),
  entry('@rxmux/core with events(), rxjs bundled', 'rxmux-events.js', { limit: '32 kB' }),
  entry('@rxmux/elements (define + ChannelController), @rxmux/core and rxjs external', 'rxmux-elements.js', { ignore: [...RXJS, '@rxmux/core', '@rxmux/core/*'], limit: '4 kB' }),
  entry('@rxmux/elements, everything bundled', 'rxmux-elements.js', { limit: '31 kB' }),
  entry('socket.io-client io().on() (comparison)', 'socket.io-client.js'),
  entry('centrifuge newSubscription().subscribe() (comparison)', 'centrifuge.js'),
  entry('rxjs webSocket().multiplex alone (comparison)', 'rxjs-multiplex.js'),
];
