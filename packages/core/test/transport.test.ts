/**
 * openSocket with the `ws` package's WebSocket (Node): giving up on a socket
 * that is still connecting (connect timeout, a black-holed link) must not
 * leave an 'error' event without a listener, which `ws` (an EventEmitter)
 * would throw as an uncaught exception.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { SUBPROTOCOL } from '@rxmux/core/protocol';
import { encodeBinary } from '../src/protocol/binary.js';
import { encodeBatch, encodeText } from '../src/protocol/codec.js';
import { openSocket, type CloseEventLike, type MessageEventLike, type SocketEvent, type WebSocketLike } from '../src/transport/websocket.js';

let server: Server | undefined;
let wss: WebSocketServer | undefined;
const sockets = new Set<Socket>();

afterEach(async () => {
  if (wss !== undefined) await new Promise((resolve) => wss?.close(resolve));
  wss = undefined;
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('openSocket (ws in Node)', () => {
  it('unsubscribing while the handshake hangs closes the socket without an unhandled error event', async () => {
    // A TCP server that accepts and never answers the upgrade: the socket stays CONNECTING.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const events: string[] = [];
      const sub = openSocket(WebSocket, `ws://127.0.0.1:${port}/rt`, { maxFrameBytes: 1024 }, [SUBPROTOCOL]).subscribe({
        next: (e) => events.push(e.kind),
        error: (e: unknown) => events.push(`error ${String(e)}`),
      });
      await new Promise((resolve) => setTimeout(resolve, 30)); // connected at TCP level, handshake pending
      sub.unsubscribe(); // what a connect timeout does
      await new Promise((resolve) => setTimeout(resolve, 30)); // ws emits 'error' on the next tick
      expect(uncaught).toEqual([]);
      expect(events).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

/** `ws`'s WebSocket seen only through the WebSocketLike interface (no `on`): the path a browser socket takes. */
class EventsOnly implements WebSocketLike {
  readonly ws: WebSocket;
  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
  }
  get readyState(): number {
    return this.ws.readyState;
  }
  get protocol(): string {
    return this.ws.protocol;
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  get binaryType(): string {
    return this.ws.binaryType;
  }
  set binaryType(type: string) {
    this.ws.binaryType = type as 'arraybuffer';
  }
  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    this.ws.send(data);
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
  addEventListener(type: 'open' | 'error' | 'message' | 'close', listener: ((event: unknown) => void) | ((event: MessageEventLike) => void) | ((event: CloseEventLike) => void)): void {
    this.ws.addEventListener(type, listener as () => void);
  }
  removeEventListener(type: 'open' | 'error' | 'message' | 'close', listener: ((event: unknown) => void) | ((event: MessageEventLike) => void) | ((event: CloseEventLike) => void)): void {
    this.ws.removeEventListener(type, listener as () => void);
  }
}

describe('openSocket message path', () => {
  it("reads ws's own 'message' event (no MessageEvent) and decodes exactly what the browser-style path decodes; leaves no listener behind", async () => {
    const messages: (string | Uint8Array)[] = [
      encodeText({ type: 'publication', channel: 'é-ch', data: { text: 'naïve ☃ 𝄞' }, seq: 1 }),
      encodeBatch([encodeText({ type: 'publication', channel: 'a', data: 1, seq: 2 }), encodeText({ type: 'ack', id: 3 })]),
      encodeBinary({ type: 'publication', channel: 'bin', data: new Uint8Array([0, 1, 255]), seq: 4 }),
      '[1,"bad"', // malformed JSON: an error in the result, the socket goes on
    ];
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => SUBPROTOCOL });
    wss.on('connection', (ws) => {
      for (const m of messages) ws.send(m, { binary: typeof m !== 'string' });
    });
    await new Promise((resolve) => wss?.once('listening', resolve));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/rt`;
    const read = async (ctor: new (url: string, protocols?: string | string[]) => WebSocketLike): Promise<{ events: SocketEvent[]; socket: WebSocketLike }> => {
      const events: SocketEvent[] = [];
      let socket: WebSocketLike | undefined;
      await new Promise<void>((resolve, reject) => {
        const sub = openSocket(ctor, url, { maxFrameBytes: 1 << 20 }, [SUBPROTOCOL]).subscribe({
          next: (e) => {
            if (e.kind === 'open') socket = e.socket;
            else events.push(e);
            if (events.length === messages.length) {
              sub.unsubscribe();
              resolve();
            }
          },
          error: reject,
        });
      });
      return { events, socket: socket as WebSocketLike };
    };
    const native = await read(WebSocket);
    const wrapped = await read(EventsOnly);
    const results = (events: SocketEvent[]): unknown[] => events.map((e) => (e.kind === 'frames' ? e.result : undefined));
    expect(results(native.events)).toEqual(results(wrapped.events));
    expect(results(native.events).slice(0, 3)).toMatchObject([
      { frames: [{ type: 'publication', channel: 'é-ch', data: { text: 'naïve ☃ 𝄞' }, seq: 1 }], errors: [] },
      { frames: [{ type: 'publication', channel: 'a' }, { type: 'ack', id: 3 }], errors: [] },
      { frames: [{ type: 'publication', channel: 'bin', data: new Uint8Array([0, 1, 255]), seq: 4 }], errors: [] },
    ]);
    expect((native.events[3] as Extract<SocketEvent, { kind: 'frames' }>).result.errors).toHaveLength(1);
    const socket = native.socket;
    expect(socket).toBeInstanceOf(WebSocket);
    if (socket instanceof WebSocket) expect(socket.listenerCount('message')).toBe(0);
  });
});
