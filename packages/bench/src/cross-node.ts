/**
 * Cross-node scenario: what a publish costs when its subscriber sits on
 * another node (publish on node A, deliver on node B, through Redis) against
 * a local one (publish and deliver on node A, same Redis engine), with the
 * memory engine as the floor. Ratios in one run, never timed assertions.
 *
 * `npm run bench:cross-node [-- --count N --latency N]`: starts its own
 * redis-server on a free loopback port (Debian's redis-server), two nodes on
 * it, a raw WebSocket subscriber on each, and prints one table.
 */
import { spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket, type RawData } from 'ws';
import { decode, encode } from '@rxmux/core/protocol';
import { createServer, type RxmuxServer } from '@rxmux/server';
import { redis } from '@rxmux/redis';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const COUNT = option('--count', 20_000);
const LATENCY = option('--latency', 1_000);
const LIMITS = { ratePerSecond: 1e7, rateBurst: 1e7, historySize: 100, maxConnectionsPerAddress: 1e7, maxRequestsPerAddress: 1e7 };

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** A subscriber on `port`: calls `onSeq` with each publication's seq. */
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

interface Figures {
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
}

/** Latency (publish → delivered, sequential) and throughput (a burst of COUNT) from `publisher` to a subscriber on `port`. */
async function measure(publisher: RxmuxServer, port: number, channel: string): Promise<Figures> {
  let seen = 0;
  let wake: (() => void) | undefined;
  const ws = await subscriber(port, channel, () => {
    seen++;
    wake?.();
  });
  const until = (n: number): Promise<void> => (seen >= n ? Promise.resolve() : new Promise<void>((resolve) => (wake = () => seen >= n && resolve())));
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY; i++) {
    const start = performance.now();
    await publisher.publish(channel, { i });
    await until(i + 1);
    latencies.push(performance.now() - start);
  }
  latencies.sort((a, b) => a - b);
  const base = seen;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < COUNT; i++) {
    inFlight.push(publisher.publish(channel, { i }));
    if (inFlight.length >= 256) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  await until(base + COUNT);
  const seconds = (performance.now() - start) / 1000;
  ws.terminate();
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { p50: at(0.5) * 1000, p99: at(0.99) * 1000, perSecond: COUNT / seconds };
}

async function main(): Promise<void> {
  const port = await freePort();
  const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const memory = createServer({ host: '127.0.0.1', port: 0, limits: LIMITS });
    const a = createServer({ host: '127.0.0.1', port: 0, limits: LIMITS, ...redis({ url, prefix: 'bench', limits: LIMITS }) });
    const b = createServer({ host: '127.0.0.1', port: 0, limits: LIMITS, ...redis({ url, prefix: 'bench', limits: LIMITS }) });
    await Promise.all([memory.ready(), a.ready(), b.ready()]);
    const rows: [string, Figures][] = [];
    rows.push(['memory engine, local', await measure(memory, memory.port, 'mem')]);
    rows.push(['redis engine, local (A → A)', await measure(a, a.port, 'local')]);
    rows.push(['redis engine, cross-node (A → B)', await measure(a, b.port, 'cross')]);
    const local = rows[1]?.[1];
    console.log(`cross-node: ${COUNT} publications burst, ${LATENCY} sequential for latency, 2 nodes in one process, one redis-server (Node ${process.version})`);
    console.log('| scenario | p50 µs | p99 µs | publications/s | vs redis local |');
    console.log('| --- | ---: | ---: | ---: | --- |');
    for (const [name, f] of rows) {
      const ratio = local === undefined ? '' : `latency ×${(f.p50 / local.p50).toFixed(2)}, throughput ×${(f.perSecond / local.perSecond).toFixed(2)}`;
      console.log(`| ${name} | ${f.p50.toFixed(0)} | ${f.p99.toFixed(0)} | ${f.perSecond.toFixed(0)} | ${ratio} |`);
    }
    await Promise.all([memory.close(), a.close(), b.close()]);
  } finally {
    redisServer.kill('SIGTERM');
  }
}

await main();
