/**
 * The legitimate clients' process: real `@rxmux/core` connections (with `ws`,
 * not pooled), each subscribed to the app's feed, each leaving from its own
 * loopback address. It accounts for every message (lost, duplicated,
 * reordered), its delivery latency, and every time a connection leaves
 * `open`. The soak's 2,000 connections are the same clients, more of them.
 */
import { connect, type Connection } from '@rxmux/core';
import type { Subscription } from 'rxjs';
import { serve } from '../ipc.js';
import { StallError, waitFor, withTimeout } from '../util.js';
import { Tracker } from './feed.js';
import type { ClientsReport } from './types.js';
import { boundWebSocket, clientAddress } from './loopback.js';

const tracker = new Tracker();
const conns: Connection[] = [];
const subs: Subscription[] = [];
let failed = 0;
let armedCpu = process.cpuUsage();

/** Most connection attempts in flight at once (keeps the listen backlog from overflowing). */
const WAVE = 50;

/** Opens one client: subscribed to `channel`, resolved once it is open. */
function open(url: string, channel: string, index: number, perAddress: number, token: string | undefined): Promise<void> {
  const conn = connect(url, {
    WebSocket: boundWebSocket(clientAddress(index, perAddress)),
    shared: false,
    devtools: false,
    ...(token === undefined ? {} : { token: `${token}-${index}` }),
  });
  conns.push(conn);
  const { tally, receive } = tracker.add();
  subs.push(conn.channel(channel).subscribe({ next: receive, error: () => undefined }));
  let wasOpen = false;
  return new Promise((resolve, reject) => {
    subs.push(
      conn.status$.subscribe((status) => {
        if (status === 'open') {
          if (!wasOpen) resolve();
          wasOpen = true;
        } else if (wasOpen) {
          tally.disconnects++;
          wasOpen = false;
        }
        if (status === 'failed') {
          failed++;
          reject(new Error(`client ${index} failed`));
        }
      }),
    );
  });
}

serve({
  /**
   * Opens `n` clients of the server on `port`, `perAddress` per loopback
   * address, each subscribed to `channel` (with the token `<token>-<i>` when
   * the server authenticates).
   */
  async connect(args: { port: number; n: number; channel: string; perAddress: number; token?: string; timeoutMs: number }) {
    const url = `ws://127.0.0.1:${args.port}/rt`;
    const deadline = Date.now() + args.timeoutMs;
    for (let i = 0; i < args.n; i += WAVE) {
      const left = deadline - Date.now();
      if (left <= 0) throw new StallError(`opened ${conns.length} of ${args.n} clients within ${args.timeoutMs / 1000} s`);
      const wave = Array.from({ length: Math.min(WAVE, args.n - i) }, (_, k) => open(url, args.channel, conns.length + k, args.perAddress, args.token));
      await withTimeout(Promise.all(wave), left, `opening clients ${i}..${i + wave.length} of ${args.n}`);
    }
    return conns.length;
  },
  /** Starts a window: messages numbered `from` and later count. */
  arm(args: { from: number }) {
    tracker.arm(args.from);
    armedCpu = process.cpuUsage();
    return null;
  },
  /** Waits (bounded) until every client has seen message `to`, then reports the window. */
  async report(args: { to: number; timeoutMs: number }): Promise<ClientsReport> {
    try {
      await waitFor(() => (tracker.caughtUp(args.to) ? true : undefined), args.timeoutMs, () => 'clients catching up', 20);
    } catch (error) {
      if (!(error instanceof StallError)) throw error;
      // reported as `behind`: the figures say how far they got
    }
    const cpu = process.cpuUsage(armedCpu);
    return { ...tracker.report(args.to), failed, cpuMs: (cpu.user + cpu.system) / 1000 };
  },
  /** Memory of this process (how much 2,000 clients cost the load generator). */
  memory() {
    return process.memoryUsage();
  },
  close() {
    for (const s of subs.splice(0)) s.unsubscribe();
    for (const c of conns.splice(0)) c.close();
    return null;
  },
});
