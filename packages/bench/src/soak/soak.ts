/**
 * The soak: a server holding many connections (default 2,000) with a
 * continuous fan-out for a bounded time, its RSS and heap sampled every
 * second. It reports the memory growth slope (least squares, KB/min, after a
 * warm-up), delivered against expected (nothing may be lost), delivery latency
 * and the server's event-loop delay. Server and clients are separate
 * processes (the bench's IPC), so the clients' CPU is not the server's.
 */
import os from 'node:os';
import { Child } from '../ipc.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { descriptorWrapper } from './loopback.js';
import { int, mib, ms, slope } from './stats.js';
import type { ClientsReport, TargetReport, TargetStarted } from './types.js';
import { table } from '../report.js';

/** What a soak run does. */
export interface SoakOptions {
  /** Connections held (default 2,000). */
  readonly connections: number;
  /** Seconds of fan-out measured (default 60). */
  readonly seconds: number;
  /** Publications per second to every connection (default 20: 40,000 deliveries per second at 2,000). */
  readonly rate: number;
  /** Bytes per publication (default 64). */
  readonly bytes: number;
  /** Connections per loopback address (default 50: 40 addresses for 2,000, under the default maxConnectionsPerAddress of 64). */
  readonly perAddress: number;
  /** Seconds of the window left out of the slope (allocation settles; default: a fifth of the run, at most 30). */
  readonly warmupSeconds?: number;
  readonly log?: (line: string) => void;
}

export const DEFAULT_SOAK: SoakOptions = { connections: 2000, seconds: 60, rate: 20, bytes: 64, perAddress: 50 };

/** The figures of a soak run. */
export interface SoakReport {
  readonly startedAt: string;
  readonly options: SoakOptions;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly loadAtStart: readonly number[] };
  readonly openSeconds: number;
  readonly delivery: ClientsReport;
  readonly server: TargetReport;
  /** Memory growth over the window after the warm-up, KB per minute. */
  readonly rssSlopeKbPerMin: number;
  readonly heapSlopeKbPerMin: number;
  /** Server memory after full GCs, before and after the fan-out. */
  readonly heapAfterGc: { readonly before: number; readonly after: number };
  readonly clientRss: number;
}

/** Runs a soak (bounded: connecting, the window and the catch-up each have a deadline). */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const wrapper = descriptorWrapper(options.connections);
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg();
  const server = await Child.start('./soak/server-main.js', 'server', { execArgv: ['--expose-gc'], wrapper });
  const clients = await Child.start('./soak/clients-main.js', 'clients', { wrapper });
  try {
    const started = await server.call<TargetStarted>('start', {});
    log(`server pid ${started.pid} on port ${started.port}; opening ${options.connections} connections (${options.perAddress} per loopback address)`);
    const t0 = performance.now();
    await clients.call('connect', { port: started.port, n: options.connections, channel: 'soak', perAddress: options.perAddress, timeoutMs: 120_000 }, 130_000);
    const openSeconds = (performance.now() - t0) / 1000;
    log(`${options.connections} connections open in ${openSeconds.toFixed(1)} s; fan-out ${options.rate}/s for ${options.seconds} s`);
    const before = await server.call<{ heapUsed: number }>('memory');
    const { published } = await server.call<{ published: number }>('feed', { channel: 'soak', rate: options.rate, bytes: options.bytes });
    await clients.call('arm', { from: published + 1 });
    await server.call('arm');
    for (let s = 0; s < options.seconds; s += 10) {
      await sleep(Math.min(10, options.seconds - s) * 1000);
      if (options.seconds > 10) log(`  ${Math.min(options.seconds, s + 10)} s`);
    }
    const { published: to } = await server.call<{ published: number }>('feedStop');
    const serverReport = await server.call<TargetReport>('report');
    const delivery = await clients.call<ClientsReport>('report', { to, timeoutMs: 30_000 }, 40_000);
    const after = await server.call<{ heapUsed: number }>('memory');
    const clientMemory = await clients.call<{ rss: number }>('memory');
    const warmup = options.warmupSeconds ?? Math.min(30, options.seconds / 5);
    const t = serverReport.samples[0]?.t ?? 0;
    const steady = serverReport.samples.filter((s) => s.t - t >= warmup);
    const perMinute = (pick: (s: TargetReport['samples'][number]) => number): number =>
      slope(steady.map((s) => [(s.t - t) / 60, pick(s) / 1024] as const));
    return {
      startedAt,
      options,
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, loadAtStart },
      openSeconds,
      delivery,
      server: serverReport,
      rssSlopeKbPerMin: perMinute((s) => s.rss),
      heapSlopeKbPerMin: perMinute((s) => s.heapUsed),
      heapAfterGc: { before: before.heapUsed, after: after.heapUsed },
      clientRss: clientMemory.rss,
    };
  } finally {
    await clients.call('close').catch(() => undefined);
    await server.call('stop').catch(() => undefined);
    await clients.stop();
    await server.stop();
  }
}

/** The soak's figures as a table. */
export function formatSoak(r: SoakReport): string {
  const d = r.delivery;
  const s = r.server;
  const first = s.samples[0];
  const last = s.samples.at(-1);
  const rows: string[][] = [
    ['figure', 'value'],
    ['connections held', int(d.clients)],
    ['seconds of fan-out', s.seconds.toFixed(1)],
    ['publications', int(d.to - d.from + 1)],
    ['delivered / expected', `${int(d.delivered)} / ${int(d.expected)}${d.expected > 0 ? ` (${((100 * d.delivered) / d.expected).toFixed(3)} %)` : ''}`],
    ['lost, duplicated', `${int(d.lost)}, ${int(d.duplicated)}`],
    ['disconnects, failed, behind at the end', `${int(d.disconnects)}, ${int(d.failed)}, ${int(d.behind)}`],
    ['delivery latency p50 / p99 / max (ms)', `${ms(d.p50)} / ${ms(d.p99)} / ${ms(d.max)}`],
    ['server event-loop delay p50 / p99 / max (ms)', `${ms(s.eld.p50)} / ${ms(s.eld.p99)} / ${ms(s.eld.max)}`],
    ['server CPU (s of ' + s.seconds.toFixed(0) + ' s)', (s.cpuMs / 1000).toFixed(1)],
    ['server RSS first / last / max (MiB)', `${mib(first?.rss ?? Number.NaN)} / ${mib(last?.rss ?? Number.NaN)} / ${mib(s.rssMax)}`],
    ['server heap first / last / max (MiB)', `${mib(first?.heapUsed ?? Number.NaN)} / ${mib(last?.heapUsed ?? Number.NaN)} / ${mib(s.heapMax)}`],
    ['server heap after full GC, before / after (MiB)', `${mib(r.heapAfterGc.before)} / ${mib(r.heapAfterGc.after)}`],
    ['RSS growth slope after warm-up (KB/min)', int(r.rssSlopeKbPerMin)],
    ['heap growth slope after warm-up (KB/min)', int(r.heapSlopeKbPerMin)],
    ['server errors (hooks.onError), slow consumers, rate-limited', `${int(s.errors)}, ${int(s.slowConsumers)}, ${int(s.rateLimited)}`],
    ['clients process RSS (MiB), CPU (s)', `${mib(r.clientRss)}, ${(d.cpuMs / 1000).toFixed(1)}`],
    ['time to open every connection (s)', r.openSeconds.toFixed(1)],
  ];
  return [
    `rxmux soak — ${r.startedAt}; ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; load at start ${r.machine.loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
    `${r.options.connections} connections (${r.options.perAddress} per loopback address), ${r.options.rate} publications/s of ${r.options.bytes} bytes to all, ${r.options.seconds} s (slope after ${r.options.warmupSeconds ?? Math.min(30, r.options.seconds / 5)} s of warm-up)`,
    table(rows),
  ].join('\n');
}
