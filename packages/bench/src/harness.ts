/**
 * The orchestrator: for every scenario and run, forks a server process and a
 * load-generator process per contender (in a rotating order, so drift of a
 * noisy machine spreads over all contenders), collects the numbers, and
 * returns them with each contender's median.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { runBundle } from './bundle.js';
import { runHol } from './hol.js';
import { runLive } from './live.js';
import { CONTENDERS, type Contender } from './contenders.js';
import { runCrossNode } from './cross-node.js';
import { runRouting, runTap } from './in-process.js';
import { Child, type ChildOptions } from './ipc.js';
import { networkScenarios, type NetworkScenario } from './network-scenarios.js';
import type { Profile } from './profiles.js';
import { emptyRuns, mediansOf, rotation } from './util.js';

/** One number a scenario reports. */
export interface Metric {
  readonly key: string;
  readonly label: string;
  /** Whether a higher value is better (throughput) or a lower one (CPU, latency, memory). */
  readonly better: 'higher' | 'lower';
}

/** A target of the issue, checked on the medians. */
export interface Verdict {
  readonly target: string;
  readonly met: boolean;
  readonly detail: string;
}

/** Everything measured for one scenario. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly contenders: readonly string[];
  readonly metrics: readonly Metric[];
  /** Ratio columns: [numerator, denominator] contender names. */
  readonly ratios: readonly (readonly [string, string])[];
  /** Every run's value: runs[contender][metric] = values. */
  readonly runs: Record<string, Record<string, number[]>>;
  readonly medians: Record<string, Record<string, number>>;
  readonly verdicts: readonly Verdict[];
  /** /proc/loadavg (1, 5, 15 min) just before the scenario started. */
  readonly loadBefore: readonly number[];
  readonly seconds: number;
  readonly errors: readonly string[];
}

/** The whole run. */
export interface BenchReport {
  readonly profile: Profile['name'];
  readonly scaled: readonly string[];
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly platform: string; readonly memGiB: number; readonly loadAtStart: readonly number[] };
  readonly versions: Record<string, string>;
  readonly notes: readonly string[];
  readonly scenarios: readonly ScenarioResult[];
}

export interface BenchOptions {
  readonly profile: Profile;
  /** Network contenders to run (default: all three). */
  readonly contenders?: readonly Contender[];
  /** Scenario ids to run (default: all). */
  readonly scenarios?: readonly string[];
  /** Runs per contender (default: the profile's). */
  readonly runs?: number;
  /** Extra node flags and a wrapper command for the server process (profiling). */
  readonly server?: ChildOptions;
  /** Extra node flags for the load-generator process (profiling). */
  readonly client?: ChildOptions;
  /** Keep one server and one load-generator process per contender for the whole run (faster; for smoke runs, not for measurements). */
  readonly reuseProcesses?: boolean;
  /** Called with progress lines. */
  readonly log?: (line: string) => void;
}

/** Scenario ids, in order. */
export const SCENARIO_IDS = ['fanin-1', 'fanin-many', 'rtt', 'fanout', 'idle', 'binary', 'routing', 'tap', 'cross-node', 'bundle', 'live', 'hol'] as const;

/** A contender's server and load-generator processes, and the server's port. */
export interface Pair {
  readonly server: Child;
  readonly client: Child;
  readonly port: number;
}

/** Process pairs kept between scenarios when `reuseProcesses` is set (smoke runs only). */
const kept = new Map<Contender, { server: Child; client: Child }>();

async function startPair(contender: Contender, options: BenchOptions): Promise<{ server: Child; client: Child }> {
  const serverOptions: ChildOptions = {
    execArgv: ['--expose-gc', ...(options.server?.execArgv ?? [])],
    ...(options.server?.wrapper ? { wrapper: options.server.wrapper } : {}),
  };
  const [s, c] = await Promise.allSettled([
    Child.start('./server-main.js', `${contender} server`, serverOptions),
    Child.start('./client-main.js', `${contender} load generator`, options.client),
  ]);
  if (s.status === 'fulfilled' && c.status === 'fulfilled') return { server: s.value, client: c.value };
  if (s.status === 'fulfilled') await s.value.stop();
  if (c.status === 'fulfilled') await c.value.stop();
  throw s.status === 'rejected' ? s.reason : (c as PromiseRejectedResult).reason;
}

async function stopPair(pair: { server: Child; client: Child }, options: BenchOptions): Promise<void> {
  await Promise.all([pair.client.stop(), pair.server.stop(options.server?.wrapper ? 15_000 : 3_000)]);
}

/**
 * Runs `body` against a server process and a load-generator process of
 * `contender`: a fresh pair per call, or (with `reuseProcesses`) one pair per
 * contender whose server is restarted and whose clients are closed between calls.
 */
async function withPair<T>(contender: Contender, options: BenchOptions, body: (pair: Pair) => Promise<T>): Promise<T> {
  let processes = options.reuseProcesses ? kept.get(contender) : undefined;
  if (processes === undefined) {
    processes = await startPair(contender, options);
    if (options.reuseProcesses) kept.set(contender, processes);
  }
  const { server, client } = processes;
  let healthy = false;
  try {
    const { port, pid } = await server.call<{ port: number; pid: number }>('start', { contender });
    if (process.env.BENCH_VERBOSE) options.log?.(`    ${contender} server pid ${pid} port ${port}`);
    const result = await body({ server, client, port });
    healthy = true;
    return result;
  } finally {
    await client.call('close', {}, 5_000).catch(() => undefined);
    await server.call('stop', {}, 5_000).catch(() => undefined);
    if (!options.reuseProcesses || !healthy) {
      kept.delete(contender);
      await stopPair(processes, options);
    }
  }
}

async function runNetwork(s: NetworkScenario, options: BenchOptions, contenders: readonly Contender[], runs: number): Promise<ScenarioResult> {
  const started = Date.now();
  const loadBefore = loadavg();
  const all = emptyRuns(contenders, s.metrics);
  const errors: string[] = [];
  options.log?.(`\n${s.title}  [load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}]`);
  for (let r = 0; r < runs; r++) {
    for (const contender of rotation(contenders, r)) {
      try {
        const values = await withPair(contender, options, (pair) => s.measure(contender, pair));
        for (const m of s.metrics) {
          const v = values[m.key];
          if (v !== undefined) all[contender]?.[m.key]?.push(v);
        }
        options.log?.(`  run ${r + 1} ${contender.padEnd(9)} ${s.metrics.map((m) => `${m.key}=${(values[m.key] ?? Number.NaN).toPrecision(4)}`).join(' ')}`);
      } catch (error) {
        const message = `${s.id} run ${r + 1} ${contender}: ${error instanceof Error ? error.message : String(error)}`;
        errors.push(message);
        options.log?.(`  ERROR ${message}`);
      }
    }
  }
  const medians = mediansOf(all);
  const ratios: [string, string][] = contenders.includes('rxmux') ? contenders.filter((c) => c !== 'rxmux').map((c) => ['rxmux', c]) : [];
  return {
    id: s.id,
    title: s.title,
    contenders,
    metrics: s.metrics,
    ratios,
    runs: all,
    medians,
    verdicts: contenders.length === CONTENDERS.length ? s.verdicts(medians) : [],
    loadBefore,
    seconds: (Date.now() - started) / 1000,
    errors,
  };
}

function versionOf(name: string): string {
  try {
    // Resolved from this package, the way the child processes load them.
    return (JSON.parse(requireText(`${name}/package.json`)) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const require = createRequire(import.meta.url);
function requireText(spec: string): string {
  return readFileSync(require.resolve(spec), 'utf8');
}

/** Runs the selected scenarios and returns every number with its medians. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const { profile } = options;
  const runs = options.runs ?? profile.runs;
  const contenders = options.contenders ?? CONTENDERS;
  const wanted = new Set(options.scenarios ?? SCENARIO_IDS);
  const started = Date.now();
  const loadAtStart = loadavg();
  const scenarios: ScenarioResult[] = [];
  for (const s of networkScenarios(profile)) {
    if (wanted.has(s.id)) scenarios.push(await runNetwork(s, options, contenders, runs));
  }
  for (const [contender, pair] of kept) {
    kept.delete(contender);
    await stopPair(pair, options);
  }
  if (wanted.has('routing')) scenarios.push(await runRouting(options, runs));
  if (wanted.has('tap')) scenarios.push(await runTap(options, options.runs ?? profile.tap.runs));
  if (wanted.has('cross-node')) scenarios.push(await runCrossNode(options, runs));
  if (wanted.has('bundle')) scenarios.push(await runBundle(options.log));
  if (wanted.has('live')) scenarios.push(await runLive(options.runs ?? profile.live.runs, options.log));
  if (wanted.has('hol')) scenarios.push(await runHol(options.runs ?? profile.hol.runs, options.log));
  const cpu = cpus();
  return {
    profile: profile.name,
    scaled: profile.scaled,
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    machine: {
      cpu: cpu[0]?.model.trim() ?? 'unknown',
      cores: cpu.length,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      loadAtStart,
    },
    versions: Object.fromEntries(['ws', 'socket.io', 'socket.io-client', 'centrifuge', 'rxjs', 'ioredis', 'esbuild', 'size-limit', '@rxmux/core', '@rxmux/server', '@rxmux/redis'].map((n) => [n, versionOf(n)])),
    notes: [
      'Server and load generator are separate Node processes on 127.0.0.1; a fresh pair per contender and run; contender order rotates per run.',
      'Throughput is measured end to end: from the first send (client clock) to the last message seen (server clock); CPU with process.cpuUsage() in the server process.',
      'rxmux server: default options (memory engine) except limits.ratePerSecond/rateBurst, raised so the per-connection rate limit (100/s) does not throttle the load generator.',
      'Socket.IO: websocket transport only, no compression, clients with forceNew: true; request/reply for ws and Socket.IO is an id echo, rxmux uses channel.request().',
      'One load-generator process drives all clients: with 2 cores the generator can be the bottleneck of fan-in and fan-out; server CPU per message is the steadier figure.',
      `Routing: rxmux is fed batches of ${profile.routing.batch} envelopes per message (what the server sends under load) and, as rxmux-unbatched, one envelope per message like multiplex; "floor" is JSON.parse of the same batches plus a Map lookup per frame (no validation, no RxJS), the ceiling of any JSON router here.`,
    ],
    scenarios,
  };
}
