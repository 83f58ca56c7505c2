/**
 * The shared WebSocket frame of a publication (`WsTransport.sendShared`):
 * byte for byte what `ws.send` writes, for every header length, and a socket
 * that closed in the middle of a fan-out falls back to `ws.send` (which drops
 * the write) without touching the other recipients. Real `ws` sockets on
 * 127.0.0.1, read by a raw TCP client.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { wsFrame, WsTransport } from '../src/adapters/ws.js';
import { SharedMessage } from '../src/core/transport.js';

/** A raw client: does the upgrade by hand and keeps every byte the server writes after the 101. */
interface RawPeer {
  readonly socket: Socket;
  /** Resolves once `n` bytes of frames arrived; returns them all. */
  bytes(n: number): Promise<Buffer>;
}

const open: { http: Server; wss: WebSocketServer; peers: Socket[] }[] = [];

async function pair(count: number): Promise<{ server: WebSocket[]; peers: RawPeer[] }> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const accepted: WebSocket[] = [];
  const all = new Promise<void>((resolve) => {
    wss.on('connection', (ws) => {
      ws.on('error', () => undefined);
      if (accepted.push(ws) === count) resolve();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const entry = { http, wss, peers: [] as Socket[] };
  open.push(entry);
  const peers: RawPeer[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(port, '127.0.0.1');
    entry.peers.push(socket);
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    const waiters: (() => void)[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = true;
        buffered = buffered.subarray(end + 4);
      }
      for (const w of waiters.splice(0)) w();
    });
    socket.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    peers.push({
      socket,
      bytes: async (n) => {
        while (!upgraded || buffered.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
        return buffered.subarray(0, n);
      },
    });
  }
  await all;
  return { server: accepted, peers };
}

afterEach(async () => {
  for (const { http, wss, peers } of open.splice(0)) {
    for (const p of peers) p.destroy();
    wss.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  }
});

describe('WsTransport.sendShared', () => {
  it('writes byte for byte what ws.send writes, at every header length, text and binary', async () => {
    const { server, peers } = await pair(2);
    const [viaSend, viaShared] = [new WsTransport(server[0] as WebSocket), new WsTransport(server[1] as WebSocket)];
    // 7-bit, 16-bit and 64-bit payload lengths, and their edges.
    const sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000];
    let total = 0;
    for (const size of sizes) {
      for (const binary of [false, true]) {
        const data = Buffer.alloc(size, binary ? 0xab : 0x61);
        viaSend.send(data, binary);
        const message = new SharedMessage(data, binary);
        viaShared.sendShared(message);
        expect(Buffer.from(message.wire ?? [])).toEqual(Buffer.from(wsFrame(data, binary)));
        total += wsFrame(data, binary).byteLength;
      }
    }
    const [a, b] = await Promise.all([(peers[0] as RawPeer).bytes(total), (peers[1] as RawPeer).bytes(total)]);
    expect(b.equals(a)).toBe(true);
  });

  it('builds the frame once and writes the same bytes to every recipient', async () => {
    const { server, peers } = await pair(3);
    const message = new SharedMessage(Buffer.from('["pub"]'), false);
    for (const ws of server) new WsTransport(ws).sendShared(message);
    const wire = message.wire;
    expect(wire).toBeDefined();
    new WsTransport(server[0] as WebSocket).sendShared(message);
    expect(message.wire).toBe(wire); // not rebuilt
    const got = await Promise.all(peers.map((p) => p.bytes((wire as Uint8Array).byteLength)));
    for (const bytes of got) expect(bytes.equals(Buffer.from(wire as Uint8Array))).toBe(true);
  });

  it('a recipient closed mid-fan-out gets nothing (ws.send drops it), the others get the frame', async () => {
    const { server, peers } = await pair(3);
    const message = new SharedMessage(Buffer.from('["late"]'), false);
    const closing = server[1] as WebSocket;
    closing.close(1000, 'bye');
    expect(closing.readyState).toBe(closing.CLOSING);
    for (const ws of server) expect(() => new WsTransport(ws).sendShared(message)).not.toThrow();
    const frame = Buffer.from(wsFrame(message.data, false));
    for (const i of [0, 2]) expect((await (peers[i] as RawPeer).bytes(frame.byteLength)).equals(frame)).toBe(true);
    // The closed one saw its close frame (opcode 8) first and nothing of the publication.
    const closed = await (peers[1] as RawPeer).bytes(2);
    expect((closed[0] as number) & 0x0f).toBe(0x8);
  });
});
