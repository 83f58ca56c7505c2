/**
 * The target server process of the soak, attack and fuzz runs: one rxmux
 * server on 127.0.0.1 with the README's handlers (a relay that republishes
 * what clients send, an echo), a feed the app publishes, and the server's own
 * measurements: event-loop delay (`monitorEventLoopDelay`), RSS and heap
 * sampled in this process, CPU time, `server.metrics()` and what the hooks
 * report. The orchestrator drives it over IPC; attackers and clients run in
 * other processes, so their CPU is not counted here.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { DEFAULT_LIMITS, type Limits, type RxmuxServer } from '@rxmux/server';
import type { JsonValue } from '@rxmux/core/protocol';
import { serve } from '../ipc.js';
import { turn } from '../util.js';
import { Feed } from './feed.js';
import { startTarget, type User } from './target.js';
import type { MemorySample, TargetOptions, TargetReport, TargetStarted } from './types.js';

let server: RxmuxServer<User> | RxmuxServer | undefined;
let limits: Limits = DEFAULT_LIMITS;
let feed: Feed | undefined;
let eld: IntervalHistogram | undefined;
/** The histogram's timer period: what it records is the period plus the delay. */
let eldResolutionMs = 10;
const bornAt = performance.now();

/** The measurement window (reset by `arm`). */
const window = {
  at: performance.now(),
  cpu: process.cpuUsage(),
  rssMax: 0,
  heapMax: 0,
  samples: [] as MemorySample[],
  errors: 0,
  errorSamples: [] as string[],
  errorKinds: {} as Record<string, number>,
  closes: {} as Record<string, number>,
  slowConsumers: 0,
  rateLimited: 0,
};

function sample(): MemorySample {
  const m = process.memoryUsage();
  return { t: (performance.now() - bornAt) / 1000, rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

// RSS and heap maxima every 100 ms, a full sample every second: cheap enough not to disturb what is measured.
let ticks = 0;
setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > window.rssMax) window.rssMax = rss;
  if (++ticks % 10 === 0) {
    const s = sample();
    if (s.heapUsed > window.heapMax) window.heapMax = s.heapUsed;
    window.samples.push(s);
  }
}, 100).unref();

const hooks = {
  onError(error: unknown): void {
    window.errors++;
    const code: unknown = error instanceof Error ? (error as { code?: unknown }).code : undefined;
    const text = error instanceof Error ? `${error.name}: ${typeof code === 'string' ? code : error.message.slice(0, 60)}` : String(error).slice(0, 80);
    window.errorKinds[text] = (window.errorKinds[text] ?? 0) + 1;
    if (window.errorSamples.length < 5) window.errorSamples.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  },
  onClose(_info: unknown, code: number): void {
    window.closes[code] = (window.closes[code] ?? 0) + 1;
  },
  onSlowConsumer(): void {
    window.slowConsumers++;
  },
  onRateLimited(): void {
    window.rateLimited++;
  },
};

function need(): RxmuxServer<User> | RxmuxServer {
  if (server === undefined) throw new Error('no server started');
  return server;
}

serve({
  async start(args: TargetOptions): Promise<TargetStarted> {
    const target = await startTarget(args, hooks);
    server = target.server;
    limits = target.limits;
    eldResolutionMs = args.eldResolutionMs ?? 10;
    eld = monitorEventLoopDelay({ resolution: eldResolutionMs });
    eld.enable();
    return { port: target.port, pid: process.pid, limits };
  },
  /** Starts (or resumes) the app's feed on `channel`: `rate` messages per second of about `bytes` bytes. */
  feed(args: { channel: string; rate: number; bytes: number }) {
    const s = need();
    feed ??= new Feed((message) => {
      s.publish(args.channel, message as unknown as JsonValue).catch((error: unknown) => hooks.onError(error));
    }, args.rate, args.bytes);
    feed.start();
    return { published: feed.published };
  },
  /** Stops the feed; answers the number of the last message published. */
  feedStop() {
    return { published: feed?.stop() ?? 0 };
  },
  /** Publishes `count` messages of `bytes` bytes on each channel (history for the replay attacks and the fuzz). */
  async preload(args: { channels: string[]; count: number; bytes: number }) {
    const s = need();
    const pad = 'p'.repeat(args.bytes);
    for (const channel of args.channels) {
      for (let i = 0; i < args.count; i++) {
        await s.publish(channel, { i, pad });
        if (i % 64 === 63) await turn();
      }
    }
    return null;
  },
  /** Publishes one value (the fuzz's setup). */
  async publish(args: { channel: string; data: JsonValue }) {
    await need().publish(args.channel, args.data);
    return null;
  },
  /** Starts a measurement window. */
  arm() {
    window.at = performance.now();
    window.cpu = process.cpuUsage();
    window.rssMax = process.memoryUsage.rss();
    window.heapMax = process.memoryUsage().heapUsed;
    window.samples = [sample()];
    window.errors = 0;
    window.errorSamples = [];
    window.errorKinds = {};
    window.closes = {};
    window.slowConsumers = 0;
    window.rateLimited = 0;
    eld?.reset();
    return null;
  },
  /** The window's figures. */
  report(): TargetReport {
    const cpu = process.cpuUsage(window.cpu);
    const h = eld;
    // monitorEventLoopDelay records the interval between its timer's runs: the delay is what exceeds the period.
    const ms = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - eldResolutionMs) : Number.NaN);
    return {
      seconds: (performance.now() - window.at) / 1000,
      eld: h === undefined || h.count === 0
        ? { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN }
        : { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) },
      rssMax: window.rssMax,
      heapMax: window.heapMax,
      samples: window.samples,
      cpuMs: (cpu.user + cpu.system) / 1000,
      metrics: need().metrics(),
      errors: window.errors,
      errorSamples: window.errorSamples,
      errorKinds: window.errorKinds,
      closes: window.closes,
      slowConsumers: window.slowConsumers,
      rateLimited: window.rateLimited,
    };
  },
  metrics() {
    return need().metrics();
  },
  /** Memory after full collections (the process runs with --expose-gc when asked). */
  async memory() {
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let i = 0; i < 3; i++) {
      gc?.();
      await turn();
    }
    return { ...sample(), gc: gc !== undefined };
  },
  async stop() {
    feed?.stop();
    await server?.close();
    server = undefined;
    return null;
  },
});
