/**
 * openSocket with the `ws` package's WebSocket (Node): giving up on a socket
 * that is still connecting (connect timeout, a black-holed link) must not
 * leave an 'error' event without a listener, which `ws` (an EventEmitter)
 * would throw as an uncaught exception.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { SUBPROTOCOL } from '@rxmux/core/protocol';
import { openSocket } from '../src/transport/websocket.js';

let server: Server | undefined;
const sockets = new Set<Socket>();

afterEach(async () => {
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
