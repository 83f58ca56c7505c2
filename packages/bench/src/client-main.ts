/**
 * The load-generator process: opens many clients of one contender and sends,
 * requests or counts deliveries as the orchestrator asks. Also runs the
 * in-process routing scenario (no network), so it never shares a heap with
 * the orchestrator.
 */
import { openClient, type BenchClient } from './clients.js';
import type { Contender } from './contenders.js';
import { serve } from './ipc.js';
import type { RoutingArgs } from './routing.js';
import { percentile, StallError, turn, wall, waitFor, withTimeout } from './util.js';

let clients: BenchClient[] = [];
let armedCpu = process.cpuUsage();
const deliveries = { count: 0, expected: Number.POSITIVE_INFINITY, doneWall: 0 };

function onDelivery(): void {
  if (++deliveries.count === deliveries.expected) deliveries.doneWall = wall();
}

/** Most connection attempts in flight at once (keeps the listen backlog from overflowing). */
const WAVE = 50;

serve({
  /** Opens `n` clients; each subscribes to `subscribe` (counting deliveries) when given. */
  async connect(args: { contender: Contender; port: number; n: number; hold: string; subscribe?: string; timeoutMs: number }) {
    const deadline = Date.now() + args.timeoutMs;
    for (let i = 0; i < args.n; i += WAVE) {
      const left = deadline - Date.now();
      if (left <= 0) throw new StallError(`${args.contender}: opened ${clients.length} of ${args.n} clients within ${args.timeoutMs / 1000} s`);
      const wave = Array.from({ length: Math.min(WAVE, args.n - i) }, () => openClient(args.contender, args.port, args.hold));
      const opened = await withTimeout(Promise.all(wave), left, `${args.contender}: opening clients ${i}..${i + wave.length} of ${args.n}`);
      clients.push(...opened);
    }
    if (args.subscribe !== undefined) for (const c of clients) c.subscribe(args.subscribe, onDelivery);
    return clients.length;
  },
  /** Every client joins `channels` too (counting deliveries). */
  subscribe(args: { channels: readonly string[] }) {
    for (const c of clients) for (const channel of args.channels) c.subscribe(channel, onDelivery);
    return clients.length;
  },
  /** Every client sends `perClient` messages, `perTurn` in total per event-loop turn. */
  async fanin(args: { channel: string; perClient: number; perTurn: number; data: unknown; timeoutMs: number }) {
    const deadline = Date.now() + args.timeoutMs;
    const eachTurn = Math.max(1, Math.floor(args.perTurn / clients.length));
    const startWall = wall();
    for (let sent = 0; sent < args.perClient; sent += eachTurn) {
      const k = Math.min(eachTurn, args.perClient - sent);
      for (const c of clients) for (let i = 0; i < k; i++) c.send(args.channel, args.data);
      await turn();
      if (Date.now() > deadline) throw new StallError(`fan-in: client sent only ${sent} of ${args.perClient} messages each within ${args.timeoutMs / 1000} s`);
    }
    return { startWall, sentWall: wall() };
  },
  /** Sequential request/replies from the first client; latencies in µs. */
  async rtt(args: { channel: string; n: number; warmup: number; data: unknown; timeoutMs: number }) {
    const c = clients[0];
    if (c === undefined) throw new Error('no client');
    const deadline = Date.now() + args.timeoutMs;
    // Every request is timed; the measured ones are those after the warm-up, and the warm-up's last
    // nine tenths say what the tail is while the optimizing compiler is still at work.
    const all: number[] = [];
    for (let i = 0; i < args.warmup + args.n; i++) {
      const t0 = performance.now();
      await withTimeout(c.request(args.channel, args.data), 10_000, `request ${i}`);
      all.push((performance.now() - t0) * 1000);
      if (Date.now() > deadline) throw new StallError(`round trip: only ${i + 1} of ${args.n + args.warmup} requests within ${args.timeoutMs / 1000} s`);
    }
    const us = all.slice(args.warmup);
    const warming = all.slice(Math.floor(args.warmup / 10), args.warmup);
    return { p50: percentile(us, 50), p99: percentile(us, 99), warmingP99: percentile(warming, 99), mean: us.reduce((a, b) => a + b, 0) / us.length, n: us.length };
  },
  /** Starts counting this process's CPU time (the load generator's cost, for diagnosis). */
  armCpu() {
    armedCpu = process.cpuUsage();
    return null;
  },
  cpu() {
    const d = process.cpuUsage(armedCpu);
    return { cpuUs: d.user + d.system };
  },
  armDeliveries(args: { expected: number }) {
    deliveries.count = 0;
    deliveries.expected = args.expected;
    deliveries.doneWall = 0;
    return null;
  },
  async waitDeliveries(args: { timeoutMs: number }) {
    await waitFor(() => (deliveries.doneWall > 0 ? true : undefined), args.timeoutMs,
      () => `clients received ${deliveries.count} of ${deliveries.expected} deliveries`, 1);
    return { doneWall: deliveries.doneWall, count: deliveries.count };
  },
  /** The first client sends `count` binary chunks of `size` bytes, `perTurn` per event-loop turn. */
  async binary(args: { channel: string; count: number; size: number; perTurn: number; timeoutMs: number }) {
    const c = clients[0];
    if (c === undefined) throw new Error('no client');
    const chunk = new Uint8Array(args.size).fill(7);
    const deadline = Date.now() + args.timeoutMs;
    const startWall = wall();
    for (let sent = 0; sent < args.count; ) {
      for (let i = 0; i < args.perTurn && sent < args.count; i++, sent++) c.sendBinary(args.channel, chunk);
      await turn();
      if (Date.now() > deadline) throw new StallError(`binary: sent only ${sent} of ${args.count} chunks within ${args.timeoutMs / 1000} s`);
    }
    return { startWall };
  },
  async routing(args: RoutingArgs) {
    const { route } = await import('./routing.js');
    // With the tap on, its code is loaded first (as it is once a debugger has been listening a while):
    // the measure is the tap's steady cost, not the wait for its dynamic import.
    if (args.tap === 'on') await (await import('@rxmux/core/debug')).preloadDebugTap();
    return route(args);
  },
  close() {
    for (const c of clients) {
      try {
        c.close();
      } catch {
        // closing is best effort; the process exits next
      }
    }
    clients = [];
    return null;
  },
});
