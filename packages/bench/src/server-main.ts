/**
 * The server process: runs one contender's server on 127.0.0.1 and counts
 * what arrives. The orchestrator drives it over IPC; CPU time is read here
 * with `process.cpuUsage()`, so it is the server's alone.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import type { AddressInfo } from 'node:net';
import type { RxmuxServer } from '@rxmux/server';
import type { RawData, WebSocket } from 'ws';
import type { Contender, RawWsMessage } from './contenders.js';
import { takeCensus } from './heap-census.js';
import { serve } from './ipc.js';
import { turn, wall, waitFor } from './util.js';

/** What every contender's server offers the scenarios. */
interface BenchServer {
  readonly port: number;
  subscribers(channel: string): number;
  publish(channel: string, data: unknown): void;
  close(): Promise<void>;
}

/** Counters of the current measurement, reset by `arm`. */
const counts = { messages: 0, bytes: 0, lastWall: 0 };
let armedCpu = process.cpuUsage();

function received(bytes: number): void {
  counts.messages++;
  counts.bytes += bytes;
  counts.lastWall = wall();
}

async function listen(http: HttpServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  return (http.address() as AddressInfo).port;
}

// Each contender's library is imported only by the process that runs it (faster start, no cross-talk).
async function startWs(): Promise<BenchServer> {
  const { WebSocketServer } = await import('ws');
  const http = createHttpServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false });
  const rooms = new Map<string, Set<WebSocket>>();
  wss.on('connection', (ws) => {
    const joined = new Set<string>();
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      const bytes = raw as Buffer;
      if (isBinary) {
        received(bytes.byteLength);
        return;
      }
      const m = JSON.parse(bytes.toString('utf8')) as RawWsMessage;
      if (m.type === 'msg') received(bytes.byteLength);
      else if (m.type === 'req') ws.send(JSON.stringify({ type: 'res', id: m.id, data: m.data }));
      else if (m.type === 'sub') {
        let room = rooms.get(m.channel);
        if (room === undefined) rooms.set(m.channel, (room = new Set()));
        room.add(ws);
        joined.add(m.channel);
      }
    });
    ws.on('close', () => {
      for (const channel of joined) rooms.get(channel)?.delete(ws);
    });
    ws.on('error', () => undefined);
  });
  const port = await listen(http);
  return {
    port,
    subscribers: (channel) => rooms.get(channel)?.size ?? 0,
    publish: (channel, data) => {
      // Serialized once per publish, one buffer for every socket: the practical best with raw ws.
      const message = Buffer.from(JSON.stringify({ type: 'pub', channel, data }));
      for (const ws of rooms.get(channel) ?? []) ws.send(message, { binary: false });
    },
    close: async () => {
      wss.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

async function startSocketIo(): Promise<BenchServer> {
  const { Server: SocketIoServer } = await import('socket.io');
  const http = createHttpServer();
  const io = new SocketIoServer(http, { transports: ['websocket'], perMessageDeflate: false, httpCompression: false, serveClient: false });
  io.on('connection', (socket) => {
    socket.on('sub', (channel: string) => void socket.join(channel));
    socket.on('msg', () => received(1));
    socket.on('req', (id: number, data: unknown) => socket.emit('res', id, data));
    socket.on('bin', (_channel: string, bytes: Buffer) => received(bytes.byteLength));
  });
  const port = await listen(http);
  return {
    port,
    subscribers: (channel) => io.sockets.adapter.rooms.get(channel)?.size ?? 0,
    publish: (channel, data) => void io.to(channel).emit('pub', channel, data),
    close: async () => {
      // Done when the HTTP server has closed (the callback); a failure on the way rejects.
      await new Promise((resolve, reject) => {
        io.close(resolve).catch(reject);
      });
    },
  };
}

async function startRxmux(): Promise<BenchServer> {
  const { createServer: createRxmuxServer } = await import('@rxmux/server');
  // Default options except the per-connection rate limit (100 frames/s by
  // default) and the caps per address (every load-generating client comes
  // from 127.0.0.1), which would otherwise throttle the load generator itself.
  const server: RxmuxServer = createRxmuxServer({
    host: '127.0.0.1',
    port: 0,
    limits: { ratePerSecond: 1e9, rateBurst: 1e9, maxConnectionsPerAddress: 1e9, maxRequestsPerAddress: 1e9 },
  });
  const subs = new Map<string, number>();
  server.handle('*', {
    onMessage: (_ctx, data) => received(data instanceof Uint8Array ? data.byteLength : 1),
    onRequest: (_ctx, data) => data,
    onSubscribe: (ctx) => void subs.set(ctx.channel, (subs.get(ctx.channel) ?? 0) + 1),
    onUnsubscribe: (ctx) => void subs.set(ctx.channel, (subs.get(ctx.channel) ?? 0) - 1),
  });
  await server.ready();
  return {
    port: server.port,
    subscribers: (channel) => subs.get(channel) ?? 0,
    publish: (channel, data) => void server.publish(channel, data as never),
    close: () => server.close(),
  };
}

let server: BenchServer | undefined;

/** The process's memory after full collections, and what the young generation holds. */
async function memoryAfterGc() {
  const gc = await collect();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, newSpace: newSpaceBytes(), gc: gc !== undefined };
}

/** What V8's young generation holds from the system (its semi-spaces), in bytes. */
function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

function cpuSinceArm(): { cpuUs: number; userUs: number; systemUs: number } {
  const d = process.cpuUsage(armedCpu);
  return { cpuUs: d.user + d.system, userUs: d.user, systemUs: d.system };
}

/** Full collections, a turn apart (the process runs with --expose-gc); returns `gc` when it is exposed. */
async function collect(): Promise<(() => void) | undefined> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) {
    gc?.();
    await turn();
  }
  return gc;
}

function need(): BenchServer {
  if (server === undefined) throw new Error('no server started');
  return server;
}

serve({
  async start(args: { contender: Contender }) {
    server = args.contender === 'ws' ? await startWs() : args.contender === 'socket.io' ? await startSocketIo() : await startRxmux();
    return { port: server.port, pid: process.pid };
  },
  /** Resets the counters and the CPU baseline: the measurement starts now. */
  arm() {
    counts.messages = 0;
    counts.bytes = 0;
    counts.lastWall = 0;
    armedCpu = process.cpuUsage();
    return null;
  },
  /** Waits until `messages` messages (or `bytes` bytes) arrived since `arm`. */
  async waitReceived(args: { messages?: number; bytes?: number; timeoutMs: number }) {
    await waitFor(
      () => ((args.messages === undefined || counts.messages >= args.messages) && (args.bytes === undefined || counts.bytes >= args.bytes) ? true : undefined),
      args.timeoutMs,
      () => `server received ${counts.messages} of ${args.messages ?? '?'} messages, ${counts.bytes} of ${args.bytes ?? '?'} bytes`,
    );
    return { ...counts, ...cpuSinceArm() };
  },
  async waitSubscribers(args: { channel: string; count: number; timeoutMs: number }) {
    const s = need();
    await waitFor(() => (s.subscribers(args.channel) >= args.count ? true : undefined), args.timeoutMs,
      () => `server saw ${s.subscribers(args.channel)} of ${args.count} subscribers on ${args.channel}`, 10);
    return s.subscribers(args.channel);
  },
  /** Publishes `count` times, in one synchronous burst or one per event-loop turn. */
  async publish(args: { channel: string; count: number; mode: 'burst' | 'paced'; data: unknown }) {
    const s = need();
    const startWall = wall();
    if (args.mode === 'burst') {
      for (let i = 0; i < args.count; i++) s.publish(args.channel, args.data);
    } else {
      for (let i = 0; i < args.count; i++) {
        s.publish(args.channel, args.data);
        await turn();
      }
    }
    return { startWall };
  },
  cpu() {
    return cpuSinceArm();
  },
  /** Memory after full collections (the process runs with --expose-gc). */
  memory() {
    return memoryAfterGc();
  },
  /**
   * Waits, allocating nothing and forcing no collection, until V8 has given
   * back the young generation the connection ramp grew (its memory reducer
   * shrinks `new_space` once the process is idle), i.e. until `new_space`
   * holds no more than `newSpaceBytes` (its size before the ramp) or
   * `timeoutMs` passed; then the memory after full collections, and how long
   * the wait took.
   */
  async settledMemory(args: { newSpaceBytes: number; timeoutMs: number }) {
    const started = Date.now();
    // No event says the reducer ran: its state is polled, bounded by timeoutMs.
    while (newSpaceBytes() > args.newSpaceBytes && Date.now() - started < args.timeoutMs) await sleep(250);
    const settled = newSpaceBytes() <= args.newSpaceBytes;
    const settledMs = Date.now() - started;
    return { ...(await memoryAfterGc()), settledMs, settled };
  },
  /** A census of the live heap after full collections (`heap-account.ts`). */
  async heapCensus() {
    await collect();
    return takeCensus();
  },
  /** After full collections: the process's RSS and each V8 heap space's size (what it holds from the system) and use. */
  async heapSpaces() {
    await collect();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    return { rss: process.memoryUsage().rss, spaces };
  },
  async stop() {
    await server?.close();
    server = undefined;
    return null;
  },
});
