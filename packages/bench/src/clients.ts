/**
 * Client side of each contender, as the load generator drives it: open,
 * subscribe with a callback, send, send bytes, request/reply, close.
 */
import type { Connection } from '@rxmux/core';
import type { Subscription } from 'rxjs';
import type { Socket } from 'socket.io-client';
import { WebSocket, type RawData } from 'ws';
import type { Contender, RawWsMessage } from './contenders.js';

/** One client connection of any contender. */
export interface BenchClient {
  /** Joins `channel`; `onData` runs for every delivery on it. */
  subscribe(channel: string, onData: () => void): void;
  send(channel: string, data: unknown): void;
  sendBinary(channel: string, bytes: Uint8Array): void;
  request(channel: string, data: unknown): Promise<unknown>;
  close(): void;
}

function openWs(port: number): Promise<BenchClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  const listeners = new Map<string, () => void>();
  const pending = new Map<number, (data: unknown) => void>();
  let nextId = 1;
  ws.on('message', (raw: RawData, isBinary: boolean) => {
    if (isBinary) return;
    const m = JSON.parse((raw as Buffer).toString('utf8')) as RawWsMessage;
    if (m.type === 'pub') listeners.get(m.channel)?.();
    else if (m.type === 'res') {
      const resolve = pending.get(m.id);
      pending.delete(m.id);
      resolve?.(m.data);
    }
  });
  const client: BenchClient = {
    subscribe: (channel, onData) => {
      listeners.set(channel, onData);
      ws.send(JSON.stringify({ type: 'sub', channel }));
    },
    send: (channel, data) => ws.send(JSON.stringify({ type: 'msg', channel, data })),
    sendBinary: (_channel, bytes) => ws.send(bytes),
    request: (channel, data) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        ws.send(JSON.stringify({ type: 'req', channel, id, data }));
      }),
    close: () => ws.terminate(),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
  });
}

// Socket.IO and rxmux are imported only by the load generator that runs them.
let socketIo: typeof import('socket.io-client') | undefined;
let rxmux: { core: typeof import('@rxmux/core'); rxjs: typeof import('rxjs') } | undefined;

async function openSocketIo(port: number): Promise<BenchClient> {
  const { io } = (socketIo ??= await import('socket.io-client'));
  const socket: Socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    perMessageDeflate: false,
  } as unknown as Parameters<typeof io>[1]);
  const listeners = new Map<string, () => void>();
  const pending = new Map<number, (data: unknown) => void>();
  let nextId = 1;
  socket.on('pub', (channel: string) => listeners.get(channel)?.());
  socket.on('res', (id: number, data: unknown) => {
    const resolve = pending.get(id);
    pending.delete(id);
    resolve?.(data);
  });
  const client: BenchClient = {
    subscribe: (channel, onData) => {
      listeners.set(channel, onData);
      socket.emit('sub', channel);
    },
    send: (channel, data) => void socket.emit('msg', channel, data),
    sendBinary: (channel, bytes) => void socket.emit('bin', channel, bytes),
    request: (channel, data) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        socket.emit('req', id, data);
      }),
    close: () => void socket.disconnect(),
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', reject);
  });
}

/**
 * rxmux: a connection of its own (`shared: false`), default options. It opens
 * when its first channel is subscribed, so `hold` is subscribed at once and
 * the client is ready when the status is `open` (the welcome arrived).
 */
async function openRxmux(port: number, hold: string): Promise<BenchClient> {
  rxmux ??= { core: await import('@rxmux/core'), rxjs: await import('rxjs') };
  const { connect } = rxmux.core;
  const { firstValueFrom } = rxmux.rxjs;
  const conn: Connection = connect(`ws://127.0.0.1:${port}/rt`, { WebSocket: WebSocket, shared: false });
  const subs: Subscription[] = [conn.channel(hold).subscribe({ error: () => undefined })];
  const client: BenchClient = {
    subscribe: (channel, onData) => void subs.push(conn.channel(channel).subscribe({ next: onData, error: () => undefined })),
    send: (channel, data) => conn.channel(channel).send(data as never),
    sendBinary: (channel, bytes) => conn.channel(channel).sendBinary(bytes),
    request: (channel, data) => firstValueFrom(conn.channel(channel).request(data as never)),
    close: () => {
      for (const s of subs) s.unsubscribe();
      conn.close();
    },
  };
  return new Promise((resolve, reject) => {
    const watch = conn.status$.subscribe((status) => {
      if (status === 'open') {
        resolve(client);
        queueMicrotask(() => watch.unsubscribe());
      } else if (status === 'failed') reject(new Error('rxmux connection failed'));
    });
  });
}

/** Opens one client of `contender` against the server on `port`. */
export function openClient(contender: Contender, port: number, hold: string): Promise<BenchClient> {
  if (contender === 'ws') return openWs(port);
  if (contender === 'socket.io') return openSocketIo(port);
  return openRxmux(port, hold);
}
