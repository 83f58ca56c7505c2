/**
 * Shared pieces of the delivery fault tests: a seeded PRNG for cut points, a
 * real server on 127.0.0.1 behind the fault proxy, the real client pointed at
 * the proxy, bounded waits, and cleanup after each test.
 */
import { filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
import { afterEach } from 'vitest';
import { connect, type Connection, type ConnectOptions } from '@rxmux/core';
import { createServer, type RxmuxServer, type ServerOptions } from '@rxmux/server';
import { FaultProxy } from '../support/fault-proxy.js';
import { until } from '../support/wait.js';

/** mulberry32: a small seeded PRNG, 0 ≤ x < 1, so every run cuts at the same points. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const servers = new Set<RxmuxServer<unknown>>();
const proxies: FaultProxy[] = [];
const conns: Connection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all([...servers].map((s) => s.close()));
  servers.clear();
});

/** No rate limit to speak of: these tests send thousands of frames a second on purpose. */
const UNLIMITED = { ratePerSecond: 1e7, rateBurst: 1e7 } as const;

/** A real server on 127.0.0.1, port 0, closed after the test (or earlier with `stop`). */
export async function serve(options: ServerOptions<null> = {}): Promise<RxmuxServer<null>> {
  const server = createServer<null>({ host: '127.0.0.1', port: 0, ...options, limits: { ...UNLIMITED, ...options.limits } });
  servers.add(server as RxmuxServer<unknown>);
  await server.ready();
  return server;
}

/** Closes a server before the end of the test (a process restart). */
export async function stop(server: RxmuxServer<null>): Promise<void> {
  servers.delete(server as RxmuxServer<unknown>);
  await server.close();
}

/** The fault proxy in front of `port`, closed after the test. */
export async function proxyTo(port: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(port);
  proxies.push(proxy);
  return proxy;
}

/** The real client, through the proxy, reconnecting fast. */
export function client(proxy: FaultProxy, options: ConnectOptions = {}): Connection {
  const conn = connect(`ws://127.0.0.1:${proxy.port}/rt`, {
    WebSocket,
    shared: false,
    reconnect: { initialDelay: 20, maxDelay: 200 },
    heartbeat: { interval: 1_000, timeout: 1_000 },
    connectTimeout: 1_000,
    buffer: { maxMessages: 100_000, maxBytes: 64 * 1024 * 1024 },
    ...options,
  });
  conns.push(conn);
  return conn;
}

export const opened = (conn: Connection): Promise<unknown> => firstValueFrom(conn.status$.pipe(filter((s) => s === 'open')));

export { sleep, until } from '../support/wait.js';

/** Waits until every channel has a member on the server (the client's subscribes arrived). */
export function joined(server: RxmuxServer<null>, channels: readonly string[], ms = 5_000): Promise<boolean> {
  return until(async () => (await Promise.all(channels.map((c) => server.presence(c)))).every((m) => m.length > 0), ms);
}

/** Exactly-once-in-order figures of one channel: what arrived against 0..expected-1. */
export function tally(received: readonly number[], expected: number): { lost: number; duplicated: number; outOfOrder: number } {
  const unique = new Set(received);
  let lost = 0;
  for (let i = 0; i < expected; i++) if (!unique.has(i)) lost++;
  let outOfOrder = 0;
  for (let i = 1; i < received.length; i++) if ((received[i] as number) <= (received[i - 1] as number)) outOfOrder++;
  return { lost, duplicated: received.length - unique.size, outOfOrder };
}

/** Adds up per-channel tallies. */
export function sum(tallies: readonly ReturnType<typeof tally>[]): ReturnType<typeof tally> {
  return tallies.reduce((a, b) => ({ lost: a.lost + b.lost, duplicated: a.duplicated + b.duplicated, outOfOrder: a.outOfOrder + b.outOfOrder }), {
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
  });
}
