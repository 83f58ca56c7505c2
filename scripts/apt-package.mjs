// Makes sure a binary from a Debian package is present, installing the package
// with apt-get when it is missing and we are root (never a download of our own).
// Shared by ensure-chromium.mjs and ensure-redis.mjs. Dependency-free: it runs
// before anything is built.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * @param {{ binary: string, defaultPath: string, envVar: string, pkg: string, why: string }} want
 *   `binary` is where it should be (`defaultPath` unless the user pointed `envVar` elsewhere),
 *   `pkg` the Debian package that installs it, `why` one line for the error message.
 */
export function ensureAptBinary({ binary, defaultPath, envVar, pkg, why }) {
  if (existsSync(binary)) return;
  if (binary !== defaultPath) fail(`${envVar}=${binary} does not exist`);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (!isRoot || !hasApt) {
    fail(
      `${binary} is missing and cannot be installed automatically (${isRoot ? 'no apt-get on this system' : 'not running as root'}).\n` +
        `        ${why}: run \`sudo apt-get install -y ${pkg}\`, or point ${envVar} at the binary.`,
    );
  }
  console.log(`[rxmux] ${binary} missing: running apt-get install -y ${pkg}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execSync(`apt-get install -y --no-install-recommends ${pkg}`, { stdio: 'inherit', env });
  } catch {
    // A fresh container often has no package lists yet.
    execSync(`apt-get update && apt-get install -y --no-install-recommends ${pkg}`, { stdio: 'inherit', env, shell: '/bin/sh' });
  }
  if (!existsSync(binary)) fail(`${binary} still missing after the install attempt`);
}

function fail(message) {
  console.error(`[rxmux] ${message}`);
  process.exit(1);
}
