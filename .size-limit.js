// Bundle-size budgets (`npm run size`, part of `npm test`; issue 15.7), measured with size-limit's esbuild
// plugin: the entry bundled for the browser as an ES module, minified, gzipped (level 9), nothing fetched.
// The entries are the files of packages/bench/size/: the same page written against each library. The
// entries without a `limit` are the comparisons `npm run bench -- --scenario bundle` tabulates
// (socket.io-client, centrifuge, RxJS webSocket().multiplex); they never fail the check.
// Budgets sit a few percent above the measured size (README, Performance): a change that grows the
// client past them fails the build and says by how much. Raised by 0.5 kB for the two rxjs-external
// entries with issue 15.1-4 (at 5d8d935 the minimal entry measured 16.07 kB, over its 16 kB; the
// requests' Deadlines and the Node message path add 0.21 kB: 16.28 kB, and 19.70 kB with events()).

/** One esbuild setup for every entry: an ES module for today's browsers. */
const modifyEsbuildConfig = (config) => ({ ...config, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent' });

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
  entry('@rxmux/core connect().channel().subscribe(), rxjs external', 'rxmux-minimal.js', { ignore: RXJS, limit: '16.5 kB' }),
  entry('@rxmux/core connect().channel().subscribe(), rxjs bundled', 'rxmux-minimal.js', { limit: '25 kB' }),
  entry('@rxmux/core with events(), rxjs external', 'rxmux-events.js', { ignore: RXJS, limit: '20 kB' }),
  entry('@rxmux/core with events(), rxjs bundled', 'rxmux-events.js', { limit: '28 kB' }),
  entry('@rxmux/elements (define + ChannelController), @rxmux/core and rxjs external', 'rxmux-elements.js', { ignore: [...RXJS, '@rxmux/core', '@rxmux/core/*'], limit: '4 kB' }),
  entry('@rxmux/elements, everything bundled', 'rxmux-elements.js', { limit: '28 kB' }),
  entry('socket.io-client io().on() (comparison)', 'socket.io-client.js'),
  entry('centrifuge newSubscription().subscribe() (comparison)', 'centrifuge.js'),
  entry('rxjs webSocket().multiplex alone (comparison)', 'rxjs-multiplex.js'),
];
