/**
 * `npm run fuzz [-- options]`: the seeded fuzz of the server and the client
 * (issue 14, item 5). Prints the cases run, the time, and the outcomes by
 * kind per property; exits 1 when a property failed, the server died or
 * reported an internal error, or a well-behaved client lost anything.
 *
 *   --cases N     cases in all (default 100000)
 *   --seed N      the seed (default 20261201); the same seed sends the same cases
 *   --seconds N   stop after this long even with cases left (default 900)
 *   --workers N   connections per property side by side (default 4)
 *   --json FILE   also write the report as JSON
 */
import { writeFileSync } from 'node:fs';
import { table } from '../report.js';
import { int } from '../soak/stats.js';
import { flagValue } from '../util.js';
import { DEFAULT_FUZZ, runFuzz, type FuzzReport } from './run.js';

function number(args: readonly string[], name: string, fallback: number): number {
  const v = flagValue(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${v}`);
  return n;
}

/** The report as text: a row per property, then its outcomes by kind. */
export function formatFuzz(r: FuzzReport): string {
  const total = r.properties.reduce((n, p) => n + p.cases, 0);
  const rows = [['property', 'cases', 'seconds', 'cases/s', 'result'], ...r.properties.map((p) => [p.name, int(p.cases), p.seconds.toFixed(1), int(p.cases / Math.max(0.001, p.seconds)), p.failure === undefined ? 'ok' : 'FAILED'])];
  rows.push(['total', int(total), r.seconds.toFixed(1), int(total / Math.max(0.001, r.seconds)), r.failures === 0 ? 'ok' : `${r.failures} FAILED`]);
  const out = [
    `rxmux fuzz — ${r.startedAt}; ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; seed ${r.options.seed}, ${int(r.options.cases)} cases asked, ${r.options.workers} workers per property`,
    table(rows),
    '',
    `server process alive at the end: ${r.serverAlive ? 'yes' : 'NO'}; internal errors (hooks.onError reports of none of the expected kinds): ${int(r.unexpectedServerErrors)}`,
    `hooks.onError by kind: ${Object.entries(r.serverErrors).map(([k, n]) => `${k} ${int(n)}`).join(', ') || 'none'}`,
  ];
  const b = r.bystanders;
  if (b !== undefined) {
    out.push(`well-behaved clients (${b.clients}, a 50 msg/s feed throughout): delivered ${int(b.delivered)} of ${int(b.expected)}, lost ${int(b.lost)}, duplicated ${int(b.duplicated)}, disconnects ${int(b.disconnects)}, latency p50 ${b.p50.toFixed(2)} ms, p99 ${b.p99.toFixed(2)} ms`);
  }
  out.push('', 'outcomes by kind (a case counts once per kind it showed):');
  for (const p of r.properties) {
    const kinds = Object.entries(p.outcomes).sort((x, y) => y[1] - x[1]);
    out.push(`  ${p.name}: ${kinds.map(([k, n]) => `${k} ${int(n)}`).join(', ')}`);
  }
  for (const p of r.properties.filter((x) => x.failure !== undefined)) out.push('', `FAILED ${p.name}:`, `  ${p.failure ?? ''}`);
  return out.join('\n');
}

async function main(args: readonly string[]): Promise<number> {
  const report = await runFuzz({
    cases: number(args, '--cases', DEFAULT_FUZZ.cases),
    seed: number(args, '--seed', DEFAULT_FUZZ.seed),
    seconds: number(args, '--seconds', DEFAULT_FUZZ.seconds),
    workers: number(args, '--workers', DEFAULT_FUZZ.workers),
    log: (line) => console.log(line),
  });
  console.log(`\n${formatFuzz(report)}`);
  const json = flagValue(args, '--json');
  if (json !== undefined) writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  return report.failures === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(2);
  },
);
