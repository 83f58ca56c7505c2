/**
 * The orchestrator: for every scenario and run, forks a server process and a
 * load-generator process per contender (in a rotating order, so drift of a
 * noisy machine spreads over all contenders), collects the numbers, and
 * returns them with each contender's median.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { runBundle } from './bundle.js';
import { runHol } from './hol.js';
import { runLive } from './live.js';
import { CH, CONTENDERS, type Contender } from './contenders.js';
import { runCrossNode } from './cross-node.js';
import { runRouting, runTap } from './in-process.js';
import { Child, type ChildOptions } from './ipc.js';
import type { Profile } from './profiles.js';
import { num } from './report.js';
import { emptyRuns, mediansOf, PAYLOAD, ratio, ratioText, rotation } from './util.js';

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

/** The channels each idle connection subscribes (the first when it opens, the others afterwards). */
const IDLE_CHANNELS = [CH.idle, `${CH.idle}-2`, `${CH.idle}-3`, `${CH.idle}-4`] as const;

interface Pair {
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

type Measure = (contender: Contender, pair: Pair) => Promise<Record<string, number>>;

function fanin(profile: Profile, shape: { clients: number; each: number }): Measure {
  return async (contender, { server, client, port }) => {
    const t = profile.timeoutMs;
    await client.call('connect', { contender, port, n: shape.clients, hold: CH.fanin, timeoutMs: t }, t + 5_000);
    await sleep(profile.settleMs);
    await Promise.all([server.call('arm'), client.call('armCpu')]);
    const total = shape.clients * shape.each;
    const { startWall } = await client.call<{ startWall: number }>('fanin', { channel: CH.fanin, perClient: shape.each, perTurn: 1_000, data: PAYLOAD, timeoutMs: t }, t + 5_000);
    const r = await server.call<{ lastWall: number; cpuUs: number; systemUs: number }>('waitReceived', { messages: total, timeoutMs: t }, t + 5_000);
    const generator = await client.call<{ cpuUs: number }>('cpu');
    return {
      clientCpuUsPerMsg: generator.cpuUs / total,
      msgsPerSec: total / ((r.lastWall - startWall) / 1000),
      cpuUsPerMsg: r.cpuUs / total,
      kernelShare: (r.systemUs / r.cpuUs) * 100,
    };
  };
}

function rtt(profile: Profile): Measure {
  return async (contender, { client, port }) => {
    const t = profile.timeoutMs;
    await client.call('connect', { contender, port, n: 1, hold: CH.rtt, timeoutMs: t }, t + 5_000);
    const r = await client.call<{ p50: number; p99: number; warmingP99: number }>('rtt', { channel: CH.rtt, ...profile.rtt, data: PAYLOAD, timeoutMs: t }, t + 5_000);
    return { p50: r.p50, p99: r.p99, warmingP99: r.warmingP99 };
  };
}

function fanout(profile: Profile): Measure {
  return async (contender, { server, client, port }) => {
    const t = profile.timeoutMs;
    const { clients, publishes } = profile.fanout;
    await client.call('connect', { contender, port, n: clients, hold: CH.fanout, subscribe: CH.fanout, timeoutMs: t }, t + 5_000);
    await server.call('waitSubscribers', { channel: CH.fanout, count: clients, timeoutMs: t }, t + 5_000);
    await sleep(profile.settleMs);
    const out: Record<string, number> = {};
    for (const mode of ['burst', 'paced'] as const) {
      await client.call('armDeliveries', { expected: clients * publishes });
      await Promise.all([server.call('arm'), client.call('armCpu')]);
      const { startWall } = await server.call<{ startWall: number }>('publish', { channel: CH.fanout, count: publishes, mode, data: PAYLOAD }, t);
      const { doneWall } = await client.call<{ doneWall: number }>('waitDeliveries', { timeoutMs: t }, t + 5_000);
      const { cpuUs } = await server.call<{ cpuUs: number }>('cpu');
      const generator = await client.call<{ cpuUs: number }>('cpu');
      out[`${mode}ClientCpuUs`] = generator.cpuUs / (clients * publishes);
      out[`${mode}PerSec`] = (clients * publishes) / ((doneWall - startWall) / 1000);
      out[`${mode}CpuUs`] = cpuUs / (clients * publishes);
      await sleep(profile.settleMs);
    }
    return out;
  };
}

function idle(profile: Profile): Measure {
  return async (contender, { server, client, port }) => {
    const t = profile.timeoutMs;
    const n = profile.idle.clients;
    interface Mem { rss: number; heapUsed: number; external: number; newSpace: number }
    const [first, ...more] = IDLE_CHANNELS as readonly [string, ...string[]];
    const before = await server.call<Mem>('memory');
    await client.call('connect', { contender, port, n, hold: first, subscribe: first, timeoutMs: t }, t + 5_000);
    await server.call('waitSubscribers', { channel: first, count: n, timeoutMs: t }, t + 5_000);
    await sleep(profile.settleMs);
    const one = await server.call<Mem>('memory');
    await client.call('subscribe', { channels: more });
    for (const channel of more) await server.call('waitSubscribers', { channel, count: n, timeoutMs: t }, t + 5_000);
    await sleep(profile.settleMs);
    const all = await server.call<Mem>('memory');
    const added = n * more.length;
    // Idle: the connections sit still until V8 has shrunk the young generation back to its size
    // before the ramp (its memory reducer does that within seconds of the process going quiet).
    const idleTimeoutMs = Math.min(t, profile.idle.settleTimeoutMs);
    const idle = await server.call<Mem & { settledMs: number; settled: boolean }>('settledMemory', { newSpaceBytes: before.newSpace, timeoutMs: idleTimeoutMs }, idleTimeoutMs + 30_000);
    return {
      idleRssKB: (idle.rss - before.rss) / n / 1024,
      idleHeapKB: (idle.heapUsed - before.heapUsed) / n / 1024,
      settleS: idle.settledMs / 1000,
      unsettled: idle.settled ? 0 : 1,
      rssKB: (all.rss - before.rss) / n / 1024,
      heapKB: (all.heapUsed - before.heapUsed) / n / 1024,
      externalKB: (all.external - before.external) / n / 1024,
      rssKB1: (one.rss - before.rss) / n / 1024,
      subHeapB: (all.heapUsed - one.heapUsed) / added,
      subRssB: (all.rss - one.rss) / added,
    };
  };
}

function binary(profile: Profile): Measure {
  return async (contender, { server, client, port }) => {
    const t = profile.timeoutMs;
    const { chunks, size } = profile.binary;
    await client.call('connect', { contender, port, n: 1, hold: CH.binary, timeoutMs: t }, t + 5_000);
    await sleep(profile.settleMs);
    await server.call('arm');
    const { startWall } = await client.call<{ startWall: number }>('binary', { channel: CH.binary, count: chunks, size, perTurn: 16, timeoutMs: t }, t + 5_000);
    const r = await server.call<{ lastWall: number; cpuUs: number }>('waitReceived', { bytes: chunks * size, timeoutMs: t }, t + 5_000);
    return { mbPerSec: (chunks * size) / 1e6 / ((r.lastWall - startWall) / 1000), cpuUsPerChunk: r.cpuUs / chunks };
  };
}

interface NetworkScenario {
  readonly id: string;
  readonly title: string;
  readonly metrics: readonly Metric[];
  readonly measure: Measure;
  readonly verdicts: (m: Record<string, Record<string, number>>) => Verdict[];
}

function atLeast(target: string, m: Record<string, Record<string, number>>, key: string, factor: number, anchors: readonly string[]): Verdict {
  const present = anchors.filter((a) => Number.isFinite(m[a]?.[key]));
  const best = Math.max(...present.map((a) => m[a]?.[key] as number));
  const r = ratio(m.rxmux?.[key], best);
  return { target, met: r >= factor, detail: `rxmux / best of ${present.join(', ')} = ${ratioText(r)}` };
}

function atMost(target: string, m: Record<string, Record<string, number>>, key: string, factor: number, anchor: string): Verdict {
  const r = ratio(m.rxmux?.[key], m[anchor]?.[key]);
  return { target, met: r <= factor, detail: `rxmux / ${anchor} = ${ratioText(r)}` };
}

function networkScenarios(profile: Profile): NetworkScenario[] {
  const faninMetrics: Metric[] = [
    { key: 'msgsPerSec', label: 'msgs/s at the server', better: 'higher' },
    { key: 'cpuUsPerMsg', label: 'server CPU µs/msg', better: 'lower' },
    { key: 'kernelShare', label: 'server kernel CPU %', better: 'lower' },
    { key: 'clientCpuUsPerMsg', label: 'load generator CPU µs/msg', better: 'lower' },
  ];
  const faninVerdict = (m: Record<string, Record<string, number>>): Verdict[] => [
    atLeast('msgs/s ≥ 2× Socket.IO', m, 'msgsPerSec', 2, ['socket.io']),
    atLeast('msgs/s ≥ 2× raw ws', m, 'msgsPerSec', 2, ['ws']),
  ];
  const fmt = (n: number): string => n.toLocaleString('en-US');
  return [
    {
      id: 'fanin-1',
      title: `1a. Fan-in: 1 client × ${fmt(profile.faninOne.each)} messages (64 B JSON)`,
      metrics: faninMetrics,
      measure: fanin(profile, profile.faninOne),
      verdicts: faninVerdict,
    },
    {
      id: 'fanin-many',
      title: `1b. Fan-in: ${profile.faninMany.clients} clients × ${fmt(profile.faninMany.each)} messages`,
      metrics: faninMetrics,
      measure: fanin(profile, profile.faninMany),
      verdicts: faninVerdict,
    },
    {
      id: 'rtt',
      title: `2. Round trip: ${fmt(profile.rtt.n)} sequential request/replies (after ${fmt(profile.rtt.warmup)} warm-up)`,
      metrics: [
        { key: 'p50', label: 'p50 µs', better: 'lower' },
        { key: 'p99', label: 'p99 µs', better: 'lower' },
        { key: 'warmingP99', label: `p99 µs while the JIT warms up (requests ${fmt(Math.floor(profile.rtt.warmup / 10))}–${fmt(profile.rtt.warmup)})`, better: 'lower' },
      ],
      measure: rtt(profile),
      verdicts: (m) => [atMost('p50 ≤ 1.05× raw ws', m, 'p50', 1.05, 'ws'), atMost('p99 ≤ 1.25× raw ws', m, 'p99', 1.25, 'ws')],
    },
    {
      id: 'fanout',
      title: `3. Fan-out: ${fmt(profile.fanout.clients)} clients on one channel × ${profile.fanout.publishes} publishes`,
      metrics: [
        { key: 'burstPerSec', label: 'burst: deliveries/s', better: 'higher' },
        { key: 'burstCpuUs', label: 'burst: server CPU µs/delivery', better: 'lower' },
        { key: 'pacedPerSec', label: 'paced: deliveries/s', better: 'higher' },
        { key: 'pacedCpuUs', label: 'paced: server CPU µs/delivery', better: 'lower' },
        { key: 'burstClientCpuUs', label: 'burst: clients CPU µs/delivery', better: 'lower' },
        { key: 'pacedClientCpuUs', label: 'paced: clients CPU µs/delivery', better: 'lower' },
      ],
      measure: fanout(profile),
      verdicts: (m) => [
        atLeast('burst ≥ 1.5× best anchor', m, 'burstPerSec', 1.5, ['ws', 'socket.io']),
        atLeast('paced ≥ 1.3× raw ws', m, 'pacedPerSec', 1.3, ['ws']),
        atMost('paced server CPU per delivery ≤ 0.8× raw ws', m, 'pacedCpuUs', 0.8, 'ws'),
      ],
    },
    {
      id: 'idle',
      title: `4. Idle memory: ${fmt(profile.idle.clients)} idle connections with ${IDLE_CHANNELS.length} channels each, per connection after gc; and what each further (connection, channel) subscription adds`,
      metrics: [
        { key: 'idleRssKB', label: `server RSS KB/conn (${IDLE_CHANNELS.length} channels), idle`, better: 'lower' },
        { key: 'idleHeapKB', label: `server heap KB/conn (${IDLE_CHANNELS.length} channels), idle`, better: 'lower' },
        { key: 'rssKB', label: `server RSS KB/conn (${IDLE_CHANNELS.length} channels), right after the ramp`, better: 'lower' },
        { key: 'heapKB', label: `server heap KB/conn (${IDLE_CHANNELS.length} channels), right after the ramp`, better: 'lower' },
        { key: 'externalKB', label: 'server external KB/conn', better: 'lower' },
        { key: 'rssKB1', label: 'server RSS KB/conn (1 channel)', better: 'lower' },
        { key: 'subHeapB', label: 'heap bytes per added subscription', better: 'lower' },
        { key: 'subRssB', label: 'RSS bytes per added subscription', better: 'lower' },
        { key: 'settleS', label: 'seconds until the young generation was given back', better: 'lower' },
        { key: 'unsettled', label: 'runs where it was not given back in time', better: 'lower' },
      ],
      measure: idle(profile),
      verdicts: (m) => [
        atMost(`idle RSS/conn with ${IDLE_CHANNELS.length} channels ≤ 1.25× raw ws`, m, 'idleRssKB', 1.25, 'ws'),
        { target: 'heap bytes per added subscription ≤ 300', met: (m.rxmux?.subHeapB ?? Number.NaN) <= 300, detail: `rxmux ${num(m.rxmux?.subHeapB)} B (ws ${num(m.ws?.subHeapB)} B)` },
      ],
    },
    {
      id: 'binary',
      title: `5. Binary: ${fmt(profile.binary.chunks)} chunks of ${profile.binary.size / 1024} KiB, client to server`,
      metrics: [
        { key: 'mbPerSec', label: 'MB/s at the server', better: 'higher' },
        { key: 'cpuUsPerChunk', label: 'server CPU µs/chunk', better: 'lower' },
      ],
      measure: binary(profile),
      verdicts: () => [],
    },
  ];
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
