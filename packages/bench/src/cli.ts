/**
 * `npm run bench [-- options]`: runs the benchmark suite and prints a table
 * per scenario.
 *
 *   --full               the counts (default: the quick profile)
 *   --smoke              tiny counts (checks the harness only)
 *   --runs N             runs per contender (default 3; the tap scenario: 5)
 *   --only ws,rxmux      network contenders to run
 *   --scenario a,b       scenarios: fanin-1 fanin-many rtt fanout idle binary routing tap cross-node bundle live hol
 *   --out DIR            where the JSON goes (default packages/bench/results)
 *   --no-save            print only
 *   --server-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"   node flags of the server process
 *   --server-wrapper "strace -c -f -o /tmp/strace.txt"         command the server process runs under
 *   --client-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"   node flags of the load-generator process
 */
import { fileURLToPath } from 'node:url';
import { CONTENDERS, type Contender } from './contenders.js';
import { runBench, SCENARIO_IDS } from './harness.js';
import { PROFILES } from './profiles.js';
import { formatReport, saveReport } from './report.js';
import { flagValue } from './util.js';

async function main(args: readonly string[]): Promise<number> {
  if (args.includes('--help')) {
    console.log('usage: npm run bench -- [--full|--smoke] [--runs N] [--only ws,socket.io,rxmux] [--scenario ids] [--out DIR] [--no-save]');
    console.log(`scenarios: ${SCENARIO_IDS.join(' ')}`);
    return 0;
  }
  const profile = args.includes('--full') ? PROFILES.full : args.includes('--smoke') ? PROFILES.smoke : PROFILES.quick;
  const runs = flagValue(args, '--runs');
  const only = flagValue(args, '--only')?.split(',') as Contender[] | undefined;
  for (const c of only ?? []) if (!CONTENDERS.includes(c)) throw new Error(`unknown contender ${c}`);
  const scenarios = flagValue(args, '--scenario')?.split(',');
  for (const s of scenarios ?? []) if (!(SCENARIO_IDS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}`);
  const nodeArgs = flagValue(args, '--server-node-args');
  const wrapper = flagValue(args, '--server-wrapper');
  const clientArgs = flagValue(args, '--client-node-args');
  console.log(`rxmux bench: ${profile.name} profile${profile.scaled.length ? ' (counts scaled down, see below)' : ''}; load ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const report = await runBench({
    profile,
    ...(runs !== undefined ? { runs: Number(runs) } : {}),
    ...(profile.name === 'smoke' ? { reuseProcesses: true } : {}),
    ...(only !== undefined ? { contenders: only } : {}),
    ...(scenarios !== undefined ? { scenarios } : {}),
    server: { ...(nodeArgs ? { execArgv: nodeArgs.split(' ') } : {}), ...(wrapper ? { wrapper: wrapper.split(' ') } : {}) },
    ...(clientArgs ? { client: { execArgv: clientArgs.split(' ') } } : {}),
    log: (line) => console.log(line),
  });
  console.log(`\n${'='.repeat(100)}\n${formatReport(report)}`);
  if (!args.includes('--no-save')) {
    const dir = flagValue(args, '--out') ?? fileURLToPath(new URL('../results/', import.meta.url));
    console.log(`\nsaved ${saveReport(report, dir)}`);
  }
  return report.scenarios.some((s) => s.errors.length > 0) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
