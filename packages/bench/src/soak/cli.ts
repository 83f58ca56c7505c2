/**
 * `npm run soak [-- options]`: the soak (default) or the hostile-client run.
 *
 *   --seconds N          seconds of fan-out (default 60)
 *   --connections N      connections held (default 2000)
 *   --rate N             publications per second to all (default 20)
 *   --bytes N            bytes per publication (default 64)
 *   --per-address N      connections per loopback address (default 50)
 *
 *   --attacks            run the attacks instead (each against a fresh server with legitimate clients)
 *   --attack a,b         only these attacks (see --list)
 *   --attack-seconds N   seconds each attack runs (default 20)
 *   --baseline-seconds N seconds of the no-attack baseline before each attack (default 10)
 *   --legit N            legitimate clients (default 10)
 *   --feed-rate N        their feed, messages per second (default 50)
 *   --memory-bound-mib N the server's memory bound: its heap limit (--max-old-space-size) and the RSS goal (default 1024)
 *   --limit name=value   a server limit other than its default (repeatable), e.g. --limit maxFrameBytes=65536
 *   --list               print the attacks and exit
 *   --json FILE          also write the report as JSON
 *
 * Exits 1 when the soak lost, duplicated or disconnected anything, or when an
 * attack missed issue 14's goal (its row says FAIL); 2 when the run itself broke.
 */
import { writeFileSync } from 'node:fs';
import { DEFAULT_LIMITS, type Limits } from '@rxmux/server';
import { flagValue } from '../util.js';
import { ATTACKS } from './attacks.js';
import { DEFAULT_ATTACK_RUN, formatAttackRun, passed, runAttacks, type AttackRunOptions } from './attack-run.js';
import { DEFAULT_SOAK, formatSoak, runSoak, type SoakOptions } from './soak.js';

function count(args: readonly string[], name: string, fallback: number): number {
  const v = flagValue(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
}

/** Every `--limit name=value`: a numeric limit of the server. */
function limits(args: readonly string[]): Partial<Limits> {
  const out: Record<string, number> = {};
  args.forEach((arg, i) => {
    if (arg !== '--limit') return;
    const [name = '', value = ''] = (args[i + 1] ?? '').split('=');
    if (!(name in DEFAULT_LIMITS)) throw new Error(`--limit ${name}: no such limit (see DEFAULT_LIMITS in @rxmux/server)`);
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--limit ${name}: a positive number, got ${value}`);
    out[name] = n;
  });
  return out;
}

async function main(args: readonly string[]): Promise<number> {
  const log = (line: string): void => console.log(line);
  const json = flagValue(args, '--json');
  if (args.includes('--list')) {
    for (const a of ATTACKS) console.log(`${a.name.padEnd(20)} ${a.what}`);
    return 0;
  }
  if (args.includes('--attacks')) {
    const only = flagValue(args, '--attack')?.split(',');
    for (const name of only ?? []) if (!ATTACKS.some((a) => a.name === name)) throw new Error(`unknown attack ${name} (see --list)`);
    const options: AttackRunOptions = {
      ...DEFAULT_ATTACK_RUN,
      attacks: only ?? ATTACKS.map((a) => a.name),
      attackSeconds: count(args, '--attack-seconds', DEFAULT_ATTACK_RUN.attackSeconds),
      baselineSeconds: count(args, '--baseline-seconds', DEFAULT_ATTACK_RUN.baselineSeconds),
      legit: count(args, '--legit', DEFAULT_ATTACK_RUN.legit),
      feedRate: count(args, '--feed-rate', DEFAULT_ATTACK_RUN.feedRate),
      memoryBoundMiB: count(args, '--memory-bound-mib', DEFAULT_ATTACK_RUN.memoryBoundMiB),
      limits: limits(args),
      log,
    };
    const report = await runAttacks(options);
    console.log(`\n${'='.repeat(100)}\n${formatAttackRun(report)}`);
    if (json !== undefined) writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
    return report.attacks.every(passed) ? 0 : 1;
  }
  const options: SoakOptions = {
    connections: count(args, '--connections', DEFAULT_SOAK.connections),
    seconds: count(args, '--seconds', DEFAULT_SOAK.seconds),
    rate: count(args, '--rate', DEFAULT_SOAK.rate),
    bytes: count(args, '--bytes', DEFAULT_SOAK.bytes),
    perAddress: count(args, '--per-address', DEFAULT_SOAK.perAddress),
    log,
  };
  const report = await runSoak(options);
  console.log(`\n${formatSoak(report)}`);
  if (json !== undefined) writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  return report.delivery.lost > 0 || report.delivery.duplicated > 0 || report.delivery.disconnects > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
