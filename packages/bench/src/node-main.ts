/**
 * One rxmux server node for the cross-node scenario, in a process of its own
 * (as nodes behind a load balancer are): the memory engine, or `@rxmux/redis`
 * on the bench's redis-server. The publishing node also measures: a raw
 * WebSocket subscriber in this process, on this node or on another one, sees
 * every publication, so latency is timed on one clock.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket, type RawData } from 'ws';
import { decode, encode } from '@rxmux/core/protocol';
import { createServer, type RxmuxServer } from '@rxmux/server';
import { redis } from '@rxmux/redis';
import { serve } from './ipc.js';
import { percentile } from './util.js';

/** Limits of every node: the rate limit off (one publisher drives the whole load), a short history. */
const LIMITS = { ratePerSecond: 1e7, rateBurst: 1e7, historySize: 100, maxConnectionsPerAddress: 1e7, maxRequestsPerAddress: 1e7 };

let server: RxmuxServer | undefined;

/** What a measuring node reports. */
export interface CrossNodeFigures {
  /** Publish → delivered, one at a time, µs. */
  readonly p50: number;
  readonly p99: number;
  /** A burst of publications (256 in flight), delivered per second. */
  readonly perSecond: number;
}

/** A raw subscriber of `channel` on `port`: calls `onSeq` with each publication's seq. */
async function subscriber(port: number, channel: string, onSeq: (seq: number) => void): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/rt`, ['rxmux.v1']);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const subscribed = new Promise<void>((resolve) => {
    ws.on('message', (data: RawData) => {
      for (const frame of decode(Buffer.isBuffer(data) ? data.toString('utf8') : '', { maxFrameBytes: 1 << 26 }).frames) {
        if (frame.type === 'subscribed') resolve();
        if (frame.type === 'publication' && frame.seq !== undefined) onSeq(frame.seq);
      }
    });
  });
  ws.send(encode({ type: 'hello', version: 1 }));
  ws.send(encode({ type: 'subscribe', channel }));
  await subscribed;
  return ws;
}

function running(): RxmuxServer {
  if (server === undefined) throw new Error('no server: call start first');
  return server;
}

serve({
  /** Starts the node; resolves with its port. */
  async start(args: { readonly engine: 'memory' | 'redis'; readonly url?: string; readonly prefix?: string }): Promise<{ port: number }> {
    server =
      args.engine === 'memory'
        ? createServer({ host: '127.0.0.1', port: 0, limits: LIMITS })
        : createServer({ host: '127.0.0.1', port: 0, limits: LIMITS, ...redis({ url: args.url ?? '', prefix: args.prefix ?? 'bench', limits: LIMITS }) });
    await server.ready();
    return { port: server.port };
  },
  /** Publishes on this node to a subscriber on `port` (this node's or another's): `latency` one at a time, then a burst of `count`. */
  async measure(args: { readonly port: number; readonly channel: string; readonly latency: number; readonly count: number }): Promise<CrossNodeFigures> {
    const node = running();
    let seen = 0;
    let wake: (() => void) | undefined;
    const ws = await subscriber(args.port, args.channel, () => {
      seen++;
      wake?.();
    });
    const until = (n: number): Promise<void> => (seen >= n ? Promise.resolve() : new Promise<void>((resolve) => (wake = () => seen >= n && resolve())));
    const latencies: number[] = [];
    for (let i = 0; i < args.latency; i++) {
      const start = performance.now();
      await node.publish(args.channel, { i });
      await until(i + 1);
      latencies.push((performance.now() - start) * 1000);
    }
    const base = seen;
    const start = performance.now();
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < args.count; i++) {
      inFlight.push(node.publish(args.channel, { i }));
      if (inFlight.length >= 256) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
    await until(base + args.count);
    const seconds = (performance.now() - start) / 1000;
    ws.terminate();
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: args.count / seconds };
  },
  async stop(): Promise<null> {
    await server?.close();
    server = undefined;
    return null;
  },
});
