/**
 * Server → client under injected faults: numbered publications replayed after
 * every cut arrive exactly once, in order per channel; a gap the history
 * cannot cover (or a restarted server: a new epoch) arrives as a typed gap
 * notice, and nothing after it is out of order; a black-holed link is found
 * by the heartbeat.
 */
import { describe, expect, it } from 'vitest';
import type { Connection, GapNotice } from '@rxmux/core';
import type { RxmuxServer } from '@rxmux/server';
import type { FaultProxy } from '../support/fault-proxy.js';
import { client, joined, opened, prng, proxyTo, serve, sleep, stop, sum, tally, until } from './harness.js';

const MESSAGES = 10_000;
const CHANNELS = 10;
const PER_CHANNEL = MESSAGES / CHANNELS;

/** Everything one channel showed the app, in arrival order: values and gap notices. */
type Seen = ({ readonly kind: 'data'; readonly value: number } | { readonly kind: 'gap'; readonly notice: GapNotice })[];

/** Subscribes to `s2c-0..n-1`; resolves once every channel is joined (presence on the server). */
async function watch(conn: Connection, server: RxmuxServer, prefix: string): Promise<Seen[]> {
  const seen: Seen[] = Array.from({ length: CHANNELS }, () => []);
  for (let i = 0; i < CHANNELS; i++) {
    const channel = conn.channel<number>(`${prefix}-${i}`);
    channel.gaps$.subscribe((notice) => seen[i]!.push({ kind: 'gap', notice }));
    channel.subscribe((value) => seen[i]!.push({ kind: 'data', value }));
  }
  await opened(conn);
  expect(await joined(server, Array.from({ length: CHANNELS }, (_, i) => `${prefix}-${i}`))).toBe(true);
  return seen;
}

/** Publishes `PER_CHANNEL` values 0.. on every channel, in rounds, cutting the link at seeded random points (every 4th cut followed by `outage`). */
async function publishWithCuts(server: RxmuxServer, proxy: FaultProxy, conn: Connection, prefix: string, seed: number, outage?: () => Promise<void>): Promise<number> {
  const random = prng(seed);
  const perRound = 50;
  let cuts = 0;
  for (let round = 0; round < MESSAGES / perRound; round++) {
    const publishing: Promise<void>[] = [];
    for (let k = 0; k < perRound; k++) {
      const i = round * perRound + k;
      publishing.push(server.publish(`${prefix}-${i % CHANNELS}`, Math.floor(i / CHANNELS)));
    }
    await Promise.all(publishing);
    if (random() < 1 / 10) {
      await Promise.race([opened(conn), sleep(5_000)]);
      await sleep(Math.floor(random() * 5));
      cuts++;
      proxy.cut();
      if (outage !== undefined && cuts % 4 === 0) await outage();
    }
    await sleep(1); // about 5 publications per channel per ms: a reconnect misses tens of them
  }
  return cuts;
}

const values = (seen: Seen): number[] => seen.flatMap((e) => (e.kind === 'data' ? [e.value] : []));

describe('server → client, in order, resumable', () => {
  const SEED = 0x5eed02;
  it(`${MESSAGES} publications on ${CHANNELS} channels, link cut at random points (seed ${SEED.toString(16)}): each observed exactly once, in order, no gap notice`, async () => {
    const server = await serve({ limits: { historySize: PER_CHANNEL } });
    const proxy = await proxyTo(server.port);
    const conn = client(proxy);
    const seen = await watch(conn, server, 's2c');
    const cuts = await publishWithCuts(server, proxy, conn, 's2c', SEED);
    await until(() => seen.every((s) => values(s).length >= PER_CHANNEL), 20_000);
    const figures = sum(seen.map((s) => tally(values(s), PER_CHANNEL)));
    const gaps = seen.flat().filter((e) => e.kind === 'gap').length;
    console.log(`[delivery] s2c: messages ${MESSAGES}, channels ${CHANNELS}, seed ${SEED.toString(16)}, cuts ${proxy.cuts} (asked ${cuts}), gap notices ${gaps}, lost ${figures.lost}, duplicated ${figures.duplicated}, out of order ${figures.outOfOrder}`);
    expect(proxy.cuts).toBeGreaterThan(5);
    expect(gaps).toBe(0);
    expect(figures).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
  }, 60_000);

  const SMALL = 20;
  const SEED2 = 0x5eed03;
  it(`${MESSAGES} publications, history of ${SMALL} per channel, cuts and outages (seed ${SEED2.toString(16)}): every loss is announced by a gap notice, nothing after it out of order`, async () => {
    const server = await serve({ limits: { historySize: SMALL } });
    const proxy = await proxyTo(server.port);
    const conn = client(proxy, { connectTimeout: 300 });
    const seen = await watch(conn, server, 'gap');
    let outages = 0;
    // An outage: the link stays down while more than the history holds is published.
    const outage = async (): Promise<void> => {
      outages++;
      proxy.blackhole(true);
      await sleep(60);
      proxy.blackhole(false);
    };
    const cuts = await publishWithCuts(server, proxy, conn, 'gap', SEED2, outage);
    // Every channel ends with the last value (the last round is live).
    await until(() => seen.every((s) => values(s).at(-1) === PER_CHANNEL - 1), 20_000);
    let notices = 0;
    let unannounced = 0;
    for (const s of seen) {
      // Value v has seq v + 1. Each value arrives after the previous one; a missing run must be covered by the gap notice before it.
      let last = -1;
      for (const e of s) {
        if (e.kind === 'gap') {
          notices++;
          expect(e.notice.reason).toBe('history');
          expect(e.notice.since).toBe(last + 1); // the gap starts right after what was seen
          last = e.notice.seq - 1; // and live delivery continues after its seq
          continue;
        }
        if (e.value !== last + 1) unannounced++;
        last = e.value;
      }
    }
    const figures = sum(seen.map((s) => tally(values(s), PER_CHANNEL)));
    console.log(`[delivery] s2c small history: messages ${MESSAGES}, channels ${CHANNELS}, history ${SMALL}, seed ${SEED2.toString(16)}, cuts ${proxy.cuts} (asked ${cuts}), outages ${outages}, gap notices ${notices}, lost (announced) ${figures.lost}, lost unannounced ${unannounced}, duplicated ${figures.duplicated}, out of order ${figures.outOfOrder}`);
    expect(outages).toBeGreaterThan(0);
    expect(notices).toBeGreaterThan(0);
    expect(unannounced).toBe(0);
    expect(figures.duplicated).toBe(0);
    expect(figures.outOfOrder).toBe(0);
  }, 60_000);

  const RESTARTS = 3;
  it(`the server process restarts ${RESTARTS} times behind the proxy (memory engine): a typed epoch gap notice each time, then in order`, async () => {
    let server = await serve();
    const proxy = await proxyTo(server.port);
    const conn = client(proxy);
    const seen = await watch(conn, server, 'rs');
    const channel = 'rs-0';
    let value = 0;
    const publish = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await server.publish(channel, value++);
    };
    const first = seen[0]!;
    await publish(5);
    await until(() => values(first).length === 5, 5_000);
    for (let r = 0; r < RESTARTS; r++) {
      const next = await serve();
      proxy.retarget(next.port);
      await stop(server); // close 1001: the client reconnects, through the proxy, to the new process
      server = next;
      expect(await until(() => first.filter((e) => e.kind === 'gap').length === r + 1, 10_000)).toBe(true);
      expect(await joined(server, [channel])).toBe(true);
      await publish(5);
      await until(() => values(first).length === 5 * (r + 2), 5_000);
    }
    const notices = first.flatMap((e) => (e.kind === 'gap' ? [e.notice] : []));
    const epochs = new Set(notices.map((n) => n.epoch));
    const figures = tally(values(first), value);
    console.log(`[delivery] restarts: ${RESTARTS}, published ${value}, epoch gap notices ${notices.length} (${epochs.size} epochs), lost ${figures.lost}, duplicated ${figures.duplicated}, out of order ${figures.outOfOrder}`);
    expect(notices.map((n) => n.reason)).toEqual(Array.from({ length: RESTARTS }, () => 'epoch'));
    expect(epochs.size).toBe(RESTARTS);
    expect(figures).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
    // In arrival order: 5 values, notice, 5 values, notice, ...
    expect(first.map((e) => e.kind)).toEqual(Array.from({ length: RESTARTS + 1 }, (_, i) => [...(i > 0 ? ['gap'] : []), ...Array.from({ length: 5 }, () => 'data')]).flat());
  }, 30_000);

  const INTERVAL = 200;
  const TIMEOUT = 300;
  it(`a black-holed link is detected by the heartbeat within interval + timeout (${INTERVAL} + ${TIMEOUT} ms) and the client recovers`, async () => {
    const server = await serve();
    server.handle('echo', { onRequest: (_ctx, data) => data });
    const proxy = await proxyTo(server.port);
    const conn = client(proxy, { heartbeat: { interval: INTERVAL, timeout: TIMEOUT }, connectTimeout: 300 });
    const seen = await watch(conn, server, 'hb');
    let lostAt: number | undefined;
    const sub = conn.transitions$.subscribe((t) => {
      if (t.from === 'open' && t.to === 'reconnecting') lostAt ??= Date.now();
    });
    const silentFrom = Date.now();
    proxy.blackhole(true);
    expect(await until(() => lostAt !== undefined, 5_000)).toBe(true);
    const detection = (lostAt as number) - silentFrom;
    proxy.blackhole(false);
    await server.publish('hb-0', 0);
    expect(await until(() => values(seen[0]!).length === 1, 10_000)).toBe(true);
    sub.unsubscribe();
    console.log(`[delivery] heartbeat: interval ${INTERVAL} ms + timeout ${TIMEOUT} ms, black hole detected after ${detection} ms, recovered`);
    // The bound is interval + timeout from the last frame received (at most `detection` ago); 100 ms of timer slack on a busy machine.
    expect(detection).toBeLessThanOrEqual(INTERVAL + TIMEOUT + 100);
  }, 20_000);
});
