/**
 * Many nodes on one Redis: three server processes (`node.mjs`), clients on
 * each. Fan-out across nodes, a resume on another node through the fault
 * proxy (no sticky sessions needed), a node killed, and redis-server
 * restarted under running nodes.
 */
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Connection, type GapNotice } from '@rxmux/core';
import type { Frame, PublicationFrame } from '@rxmux/core/protocol';
import { FaultProxy } from '../support/fault-proxy.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { until } from '../support/wait.js';
import { tclient, type TClient } from '../server/tclient.js';
import { startNode, type NodeProcess } from './nodes.js';

let redisServer: RedisProcess;
const clients: TClient[] = [];
const conns: Connection[] = [];
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  redisServer = await startRedis();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const c of conns.splice(0)) c.close();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await redisServer.stop();
});

const url = (port: number): string => `ws://127.0.0.1:${port}/rt`;
const publications = (c: TClient, channel: string): PublicationFrame[] => c.queue.filter((f): f is PublicationFrame => f.type === 'publication' && f.channel === channel);

/** A raw protocol client on `port`, welcomed and subscribed to `channel`. */
async function subscriber(port: number, channel: string): Promise<TClient> {
  const c = await tclient(url(port));
  clients.push(c);
  await c.hello();
  c.send({ type: 'subscribe', channel });
  await c.waitFor('subscribed', 10_000);
  return c;
}

/** The real client through a fault proxy, reconnecting fast. */
function realClient(proxy: FaultProxy): Connection {
  const conn = connect(url(proxy.port), {
    WebSocket,
    shared: false,
    reconnect: { initialDelay: 20, maxDelay: 200 },
    heartbeat: { interval: 1_000, timeout: 1_000 },
    connectTimeout: 2_000,
    buffer: { maxMessages: 100_000, maxBytes: 64 * 1024 * 1024 },
  });
  conns.push(conn);
  return conn;
}

describe('many nodes on one Redis', () => {
  it('three server processes: a publish on any node reaches every subscriber on every node exactly once, in order (10,000 publications)', async () => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((name) => startNode({ url: redisServer.url, prefix: 'fan', name })));
    const subscribers = (await Promise.all(nodes.flatMap((node) => [subscriber(node.port, 'fan'), subscriber(node.port, 'fan')]))).flat();
    const counts = [3_334, 3_333, 3_333];
    const results = await Promise.all(nodes.map((node, i) => node.ask<{ failed: number }>('publish', { channel: 'fan', count: counts[i] }, 90_000)));
    expect(results.map((r) => r.failed)).toEqual([0, 0, 0]);
    expect(await until(() => subscribers.every((c) => publications(c, 'fan').length >= 10_000), 60_000)).toBe(true);
    let lost = 0;
    let duplicated = 0;
    for (const c of subscribers) {
      const got = publications(c, 'fan');
      expect(got.map((p) => p.seq)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1)); // one global order, once each
      const keys = new Set(got.map((p) => JSON.stringify(p.data)));
      duplicated += got.length - keys.size;
      lost += 10_000 - keys.size;
      // each node's publications keep the order it published them in
      for (const node of nodes) {
        const own = got.map((p) => p.data as { node: string; i: number }).filter((d) => d.node === node.name).map((d) => d.i);
        expect(own).toEqual(Array.from({ length: own.length }, (_, i) => i + 1));
      }
    }
    console.log(`[cluster] fan-out: 10000 publications from 3 nodes to ${subscribers.length} subscribers on 3 nodes: lost ${lost}, duplicated ${duplicated}`);
    expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
    await Promise.all(nodes.map((node) => node.ask('close')));
  }, 120_000);

  it('a client cut from node A resumes on node B: session resumed, channels with no gap and no duplicate, acked and plain sends handled once', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => startNode({ url: redisServer.url, prefix: 'resume', name })));
    if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes expected');
    const proxy = await FaultProxy.start(a.port);
    proxies.push(proxy);
    const conn = realClient(proxy);
    const opens: (boolean | undefined)[] = [];
    conn.debug((event) => {
      if (event.type === 'status' && event.to === 'open') opens.push(event.resumed);
    });
    const feed: unknown[] = [];
    const gaps: GapNotice[] = [];
    const channel = conn.channel('feed');
    channel.subscribe((value) => feed.push(value));
    channel.gaps$.subscribe((gap) => gaps.push(gap));
    const svc = conn.channel('svc');
    expect(await until(async () => (await c.ask<{ members: string[] }>('presence', { channel: 'feed' })).members.length === 1, 10_000)).toBe(true);

    let acked = 0;
    const send = (from: number, to: number): void => {
      for (let i = from; i <= to; i++) {
        svc.send({ k: `acked-${i}` }, { ack: true }).subscribe(() => acked++);
        svc.send({ k: `plain-${i}` });
      }
    };
    send(1, 50);
    await c.ask('publish', { channel: 'feed', count: 200 });
    expect(await until(() => acked === 50 && feed.length === 200, 15_000)).toBe(true);
    send(51, 100); // some of these are in flight when the link is cut
    proxy.retarget(b.port);
    proxy.cut();
    send(101, 150); // written while reconnecting: buffered, then sent to node B
    await c.ask('publish', { channel: 'feed', count: 200 }); // published during the outage, on a third node

    expect(await until(() => opens.length === 2, 15_000)).toBe(true);
    expect(opens).toEqual([undefined, true]); // node B's welcome: the session resumed
    expect(await until(() => acked === 150 && feed.length >= 400, 20_000)).toBe(true);
    const handled = new Map<string, number>();
    for (const node of [a, b]) {
      const { handled: counts } = await node.ask<{ handled: Record<string, number> }>('handled');
      for (const [key, n] of Object.entries(counts)) handled.set(key, (handled.get(key) ?? 0) + n);
    }
    expect(await until(async () => {
      const counts = await b.ask<{ handled: Record<string, number> }>('handled');
      return Object.keys(counts.handled).length > 0;
    }, 10_000)).toBe(true);
    const expected = Array.from({ length: 150 }, (_, i) => [`{"k":"acked-${i + 1}"}`, `{"k":"plain-${i + 1}"}`]).flat();
    const missing = expected.filter((key) => !handled.has(key));
    const doubled = [...handled].filter(([, n]) => n > 1).map(([key]) => key);
    expect({ missing, doubled }).toEqual({ missing: [], doubled: [] });
    // the channel resumed on B from its position: every publication once, in order, no gap notice
    const order = feed.map((d) => (d as { i: number }).i);
    expect(order).toEqual([...Array.from({ length: 200 }, (_, i) => i + 1), ...Array.from({ length: 200 }, (_, i) => i + 1)]);
    expect(gaps).toEqual([]);
    console.log(`[cluster] resume on another node: 150 acked + 150 plain sends, handled once each (missing ${missing.length}, doubled ${doubled.length}); 400 publications, gaps ${gaps.length}`);
    await Promise.all([a, b, c].map((node) => node.ask('close')));
  }, 90_000);

  it('killing a node loses nothing for the other nodes’ clients; its presence entries expire within the lease', async () => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((name) => startNode({ url: redisServer.url, prefix: 'kill', name, leaseMs: 1_500 })));
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const onB = await subscriber(b.port, 'room');
    const onC = await subscriber(c.port, 'room');
    await subscriber(a.port, 'room');
    expect(await until(async () => (await b.ask<{ members: string[] }>('presence', { channel: 'room' })).members.length === 3, 10_000)).toBe(true);
    const publishing = b.ask<{ failed: number }>('publish', { channel: 'room', count: 2_000 }, 60_000);
    await until(() => publications(onC, 'room').length > 200, 10_000);
    await a.kill(); // mid-stream, without a goodbye
    const killedAt = Date.now();
    expect((await publishing).failed).toBe(0);
    await c.ask('publish', { channel: 'room', count: 1_000 });
    expect(await until(() => publications(onB, 'room').length >= 3_000 && publications(onC, 'room').length >= 3_000, 20_000)).toBe(true);
    for (const client of [onB, onC]) expect(publications(client, 'room').map((p) => p.seq)).toEqual(Array.from({ length: 3_000 }, (_, i) => i + 1));
    // the killed node's member goes within the lease (checked every 50 ms; the bound is generous for a loaded machine)
    expect(await until(async () => (await c.ask<{ members: string[] }>('presence', { channel: 'room' })).members.length === 2, 1_500 * 4)).toBe(true);
    console.log(`[cluster] node killed: 3000 publications to the 2 other nodes' clients, lost 0, duplicated 0; its member gone ${Date.now() - killedAt} ms after the kill (lease 1500 ms)`);
    await Promise.all([b, c].map((node) => node.ask('close')));
  }, 90_000);

  it('restarting redis-server: no process crashes, the engine goes down and up, publishes during the outage fail, subscribers get gap notices', async () => {
    const own = await startRedis();
    try {
      const [a, b] = (await Promise.all(['a', 'b'].map((name) => startNode({ url: own.url, prefix: 'outage', name })))) as [NodeProcess, NodeProcess];
      const onA = await subscriber(a.port, 'news');
      await b.ask('publish', { channel: 'news', count: 10 });
      expect(await until(() => publications(onA, 'news').length === 10, 10_000)).toBe(true);
      await own.stop(true); // the data goes with it: the restarted Redis is empty
      expect(await until(() => a.statuses.includes('down') && b.statuses.includes('down'), 15_000)).toBe(true);
      const during = await b.ask<{ failed: number; codes: string[] }>('publish', { channel: 'news', count: 3 });
      expect(during).toMatchObject({ failed: 3, codes: ['RXMUX_ERR_ENGINE_UNAVAILABLE'] });
      await own.restart();
      expect(await until(() => a.statuses.at(-1) === 'up' && b.statuses.at(-1) === 'up', 20_000)).toBe(true);
      // the client of the affected channel is told: its channel moved to a new epoch
      const gap = await onA.waitForFrame((f: Frame) => f.type === 'gap' && f.channel === 'news', 15_000);
      expect(gap).toMatchObject({ type: 'gap', channel: 'news', reason: 'epoch', since: 10 });
      // and it is live again, on the same socket
      await b.ask('publish', { channel: 'news', count: 2 });
      expect(await until(() => publications(onA, 'news').length === 12, 10_000)).toBe(true);
      expect(a.alive && b.alive).toBe(true);
      expect(onA.ws.readyState).toBe(WebSocket.OPEN);
      console.log(`[cluster] redis restart: statuses a ${a.statuses.join('→')}, b ${b.statuses.join('→')}; publishes during the outage failed 3/3 with RXMUX_ERR_ENGINE_UNAVAILABLE; gap ${JSON.stringify(gap)}`);
      await Promise.all([a, b].map((node) => node.ask('close')));
    } finally {
      await own.stop();
    }
  }, 90_000);
});
