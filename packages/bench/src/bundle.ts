/**
 * Scenario 9: bundle sizes (issue 15.7). The same page written against each
 * library (`packages/bench/size/*.js`), measured by the size check itself
 * (`size-limit --json` with the repository's `.size-limit.js`: esbuild for
 * the browser, minified, gzip level 9), so the bench and `npm test` cannot
 * disagree on a number. Deterministic: one run.
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { ScenarioResult, Verdict } from './harness.js';
import { emptyRuns, mediansOf } from './util.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

/** A check of `.size-limit.js`, as far as this scenario reads it. */
interface Check {
  readonly name: string;
  readonly path: string;
  readonly ignore?: readonly string[];
}

/** What `size-limit --json` prints per check. */
interface Measured {
  readonly name: string;
  readonly size: number;
}

/** The contender each entry file stands for. */
const CONTENDER_OF: Readonly<Record<string, string>> = {
  'rxmux-minimal.js': 'rxmux',
  'rxmux-events.js': 'rxmux+events',
  'rxmux-elements.js': 'rxmux-elements',
  'socket.io-client.js': 'socket.io-client',
  'centrifuge.js': 'centrifuge',
  'rxjs-multiplex.js': 'multiplex',
};

/** The issue's byte budget for `connect().channel().subscribe()` with rxjs external (8 KB, gzip). */
const TARGET_EXTERNAL = 8_000;

export async function runBundle(log?: (line: string) => void): Promise<ScenarioResult> {
  const started = Date.now();
  const loadBefore = loadavg();
  const title = '9. Bundle size: the same page (join one channel) against each library, esbuild for the browser, minified, gzip bytes (size-limit, .size-limit.js)';
  log?.(`\n${title}`);
  const contenders = Object.values(CONTENDER_OF);
  const metrics = [
    { key: 'bundled', label: 'gzip bytes, every dependency bundled', better: 'lower' as const },
    { key: 'external', label: 'gzip bytes, rxjs (and @rxmux/core for elements) external', better: 'lower' as const },
  ];
  const runs = emptyRuns(contenders, metrics);
  const errors: string[] = [];
  try {
    const config = ((await import(pathToFileURL(`${ROOT}.size-limit.js`).href)) as { default: readonly Check[] }).default;
    const { stdout } = await run(process.execPath, ['node_modules/size-limit/bin.js', '--json'], { cwd: ROOT, maxBuffer: 16 << 20 });
    const measured = JSON.parse(stdout) as Measured[];
    for (const { name, size } of measured) {
      const check = config.find((c) => c.name === name);
      const file = check?.path.split('/').at(-1) ?? '';
      const contender = CONTENDER_OF[file];
      if (check === undefined || contender === undefined) continue;
      runs[contender]?.[check.ignore === undefined ? 'bundled' : 'external']?.push(size);
      log?.(`  ${name}: ${size.toLocaleString('en-US')} B`);
    }
  } catch (error) {
    const message = `bundle: ${error instanceof Error ? error.message : String(error)} (run npm run build first)`;
    errors.push(message);
    log?.(`  ERROR ${message}`);
  }
  const medians = mediansOf(runs); // one run: its value (NaN where an entry has no such measure)
  const rx = medians.rxmux ?? {};
  const sio = medians['socket.io-client']?.bundled;
  const verdicts: Verdict[] = [
    { target: `connect().channel().subscribe() ≤ ${TARGET_EXTERNAL / 1000} kB gzip, rxjs external`, met: (rx.external ?? Infinity) <= TARGET_EXTERNAL, detail: `${rx.external ?? '—'} B` },
    { target: '… ≤ socket.io-client with rxjs bundled', met: (rx.bundled ?? Infinity) <= (sio ?? 0), detail: `${rx.bundled ?? '—'} B vs ${sio ?? '—'} B` },
  ];
  return {
    id: 'bundle',
    title,
    contenders,
    metrics,
    ratios: [
      ['rxmux', 'socket.io-client'],
      ['rxmux', 'centrifuge'],
      ['rxmux', 'multiplex'],
    ],
    runs,
    medians,
    verdicts,
    loadBefore,
    seconds: (Date.now() - started) / 1000,
    errors,
  };
}
