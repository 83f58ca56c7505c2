/**
 * Shared pieces of the delivery fault tests: a seeded PRNG for cut points, a
 * real server on 127.0.0.1 behind the fault proxy, the real client pointed at
 * the proxy, bounded waits, and cleanup after each test.
 */
import { afterEach } from 'vitest';
import type { Connection, ConnectOptions } from '@rxmux/core';
import type { RxmuxServer, ServerOptions } from '@rxmux/server';
import { client as realClient, serve as serveReal, wsUrl } from '../support/real.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { until } from '../support/wait.js';
import { prng } from '../support/random.js';

export { prng };

const proxies: FaultProxy[] = [];

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

/** No rate limit to speak of: these tests send thousands of frames a second on purpose. */
const UNLIMITED = { ratePerSecond: 1e7, rateBurst: 1e7 } as const;

/** A real server on 127.0.0.1, port 0, without a rate limit to speak of, closed after the test. */
export function serve(options: ServerOptions = {}): Promise<RxmuxServer> {
  return serveReal({ ...options, limits: { ...UNLIMITED, ...options.limits } });
}

export { stop } from '../support/real.js';

/** The fault proxy in front of `port`, closed after the test. */
export async function proxyTo(port: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(port);
  proxies.push(proxy);
  return proxy;
}

/** The real client, through the proxy, reconnecting fast. */
export function client(proxy: FaultProxy, options: ConnectOptions = {}): Connection {
  return realClient(wsUrl(proxy.port), {
    reconnect: { initialDelay: 20, maxDelay: 200 },
    heartbeat: { interval: 1_000, timeout: 1_000 },
    connectTimeout: 1_000,
    buffer: { maxMessages: 100_000, maxBytes: 64 * 1024 * 1024 },
    ...options,
  });
}

export { opened } from '../support/real.js';
export { sleep, until } from '../support/wait.js';

/** Waits until every channel has a member on the server (the client's subscribes arrived). */
export function joined(server: RxmuxServer, channels: readonly string[], ms = 5_000): Promise<boolean> {
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
