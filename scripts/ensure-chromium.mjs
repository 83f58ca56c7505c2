// Makes `npm test` work on a fresh machine: the end-to-end tests drive Debian's
// chromium (/usr/bin/chromium) with playwright-core. Never downloads a browser
// through Playwright (do not run `npx playwright install`); installs the
// distribution package when we are root. Dependency-free: it runs before
// anything is built.
import { ensureAptBinary } from './apt-package.mjs';

ensureAptBinary({
  binary: process.env.RXMUX_CHROMIUM ?? '/usr/bin/chromium',
  defaultPath: '/usr/bin/chromium',
  envVar: 'RXMUX_CHROMIUM',
  pkg: 'chromium',
  why: "The end-to-end tests need Debian's chromium",
});
