// Makes `npm test` work on a fresh machine: the engine, cluster and bench tests
// start their own redis-server (Debian's redis-server package) on a free
// loopback port. Installs the package when the binary is missing and we are
// root; never assumes a Redis is running. Dependency-free: it runs first.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const REDIS = process.env.RXMUX_REDIS_SERVER ?? '/usr/bin/redis-server';

if (!existsSync(REDIS)) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (REDIS !== '/usr/bin/redis-server') {
    console.error(`[rxmux] RXMUX_REDIS_SERVER=${REDIS} does not exist`);
    process.exit(1);
  }
  if (isRoot && hasApt) {
    console.log(`[rxmux] ${REDIS} missing: running apt-get install -y redis-server`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execSync('apt-get install -y --no-install-recommends redis-server', { stdio: 'inherit', env });
    } catch {
      // A fresh container often has no package lists yet.
      execSync('apt-get update && apt-get install -y --no-install-recommends redis-server', { stdio: 'inherit', env, shell: '/bin/sh' });
    }
  } else {
    console.error(
      `[rxmux] ${REDIS} is missing and cannot be installed automatically ` +
        `(${isRoot ? 'no apt-get on this system' : 'not running as root'}).\n` +
        '        The Redis engine tests need redis-server 7: run `sudo apt-get install -y redis-server`,\n' +
        '        or point RXMUX_REDIS_SERVER at a redis-server binary.',
    );
    process.exit(1);
  }
}
if (!existsSync(REDIS)) {
  console.error(`[rxmux] ${REDIS} still missing after the install attempt`);
  process.exit(1);
}
