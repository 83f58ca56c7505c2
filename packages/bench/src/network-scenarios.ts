/**
 * The scenarios measured over the network (fan-in, round trip, fan-out, idle
 * memory, binary): what each asks of a contender's server and load-generator
 * processes, the metrics it reports, and the targets checked on their
 * medians. The orchestrator (`harness.ts`) runs them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CH, type Contender } from './contenders.js';
import type { Metric, Pair, Verdict } from './harness.js';
import type { Profile } from './profiles.js';
import { num } from './report.js';
import { PAYLOAD, ratio, ratioText } from './util.js';

/** The channels each idle connection subscribes (the first when it opens, the others afterwards). */
const IDLE_CHANNELS = [CH.idle, `${CH.idle}-2`, `${CH.idle}-3`, `${CH.idle}-4`] as const;

/** One run of a scenario against one contender: its metrics by key. */
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

/** A scenario measured over the network. */
export interface NetworkScenario {
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

/** The network scenarios at `profile`'s counts. */
export function networkScenarios(profile: Profile): NetworkScenario[] {
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
