// Makes `npm test` work on a fresh machine: the end-to-end tests drive Debian's
// chromium (/usr/bin/chromium) with playwright-core. Never downloads a browser
// through Playwright; installs the distribution package when we are root.
// Kept dependency-free on purpose: it runs before anything is built.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHROMIUM = process.env.RXMUX_CHROMIUM ?? '/usr/bin/chromium';

if (!existsSync(CHROMIUM)) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (CHROMIUM !== '/usr/bin/chromium') {
    console.error(`[rxmux] RXMUX_CHROMIUM=${CHROMIUM} does not exist`);
    process.exit(1);
  }
  if (isRoot && hasApt) {
    console.log(`[rxmux] ${CHROMIUM} missing: running apt-get install -y chromium`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execSync('apt-get install -y --no-install-recommends chromium', { stdio: 'inherit', env });
    } catch {
      // A fresh container often has no package lists yet.
      execSync('apt-get update && apt-get install -y --no-install-recommends chromium', { stdio: 'inherit', env, shell: '/bin/sh' });
    }
  } else {
    console.error(
      `[rxmux] ${CHROMIUM} is missing and cannot be installed automatically ` +
        `(${isRoot ? 'no apt-get on this system' : 'not running as root'}).\n` +
        '        The end-to-end tests need Debian\'s chromium: run `sudo apt-get install -y chromium`,\n' +
        '        or point RXMUX_CHROMIUM at a Chromium binary. (Do not run `npx playwright install`.)',
    );
    process.exit(1);
  }
}
if (!existsSync(CHROMIUM)) {
  console.error(`[rxmux] ${CHROMIUM} still missing after the install attempt`);
  process.exit(1);
}
