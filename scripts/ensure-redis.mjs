// Makes `npm test` work on a fresh machine: the engine, cluster and bench tests
// start their own redis-server (Debian's redis-server package) on a free
// loopback port. Installs the package when the binary is missing and we are
// root; never assumes a Redis is running. Dependency-free: it runs first.
import { ensureAptBinary } from './apt-package.mjs';

ensureAptBinary({
  binary: process.env.RXMUX_REDIS_SERVER ?? '/usr/bin/redis-server',
  defaultPath: '/usr/bin/redis-server',
  envVar: 'RXMUX_REDIS_SERVER',
  pkg: 'redis-server',
  why: 'The Redis engine tests need redis-server 7',
});
