/**
 * Chunked transfers (protocol v2, PROTOCOL.md 15) end to end: the core
 * client in Node (with `ws`) against the real @rxmux/server on 127.0.0.1.
 * A 100-byte message overtakes a 5 MB transfer in both directions; the large
 * payload arrives whole and exact, once; a socket cut mid-upload re-sends it
 * whole; a close mid-upload reports it; either side on v1 keeps whole frames.
 */
import { createHash } from 'node:crypto';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, ConnectOptions, DroppedMessage } from '@rxmux/core';
import type { RxmuxServer, ServerOptions } from '@rxmux/server';
import { FaultProxy } from '../support/fault-proxy.js';
import { client, opened, serve, wsUrl } from '../support/real.js';

const KIB = 1024;
const MB = 5 * 1024 * KIB;
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff);
/** A rate the uploads here never meet (the default limits a client to 100 messages/s). */
const UNPACED: ServerOptions['limits'] = { ratePerSecond: 1e6, rateBurst: 1e6 };

const proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

/** A server recording what its handler takes on any channel, in order (binary as its hash). */
async function recording(options: ServerOptions = {}): Promise<{ server: RxmuxServer; url: string; handled: { channel: string; value: unknown }[] }> {
  const server = await serve({ limits: UNPACED, ...options });
  const handled: { channel: string; value: unknown }[] = [];
  server.handle('*', { onMessage: (ctx, data) => void handled.push({ channel: ctx.channel, value: data instanceof Uint8Array ? sha(data) : data }) });
  return { server, url: wsUrl(server.port), handled };
}

/** A client, open (a subscribed channel keeps it wanted). */
async function live(url: string, options: ConnectOptions = {}): Promise<Connection> {
  const conn = client(url, options);
  conn.channel('hold').subscribe();
  await opened(conn);
  return conn;
}

describe('uploads', () => {
  it('a 100-byte message sent during a 5 MB upload on another channel is handled first; the upload arrives whole and exact, once', async () => {
    const { url, handled } = await recording();
    const conn = await live(url);
    const payload = bytesOf(MB);
    conn.channel('up').sendBinary(payload);
    await new Promise((resolve) => setImmediate(resolve)); // the upload's first piece is on its way
    conn.channel('chat').send('x'.repeat(100));
    await expect.poll(() => handled.length, { timeout: 20_000 }).toBe(2);
    expect(handled).toEqual([
      { channel: 'chat', value: 'x'.repeat(100) },
      { channel: 'up', value: sha(payload) },
    ]);
  });

  it('a socket cut mid-upload: the message goes again whole after the resume, handled once, its ack once', async () => {
    // A 4 KiB window: 1 MiB takes hundreds of round trips, so the cut lands mid-upload.
    const { server, handled } = await recording({ limits: { ...UNPACED, transferWindow: 4 * KIB, chunkBytes: 4 * KIB } });
    const proxy = await FaultProxy.start(server.port);
    proxies.push(proxy);
    const conn = await live(wsUrl(proxy.port), { reconnect: { initialDelay: 20, maxDelay: 100 } });
    const payload = bytesOf(1024 * KIB, 7);
    const acked = lastValueFrom(conn.channel('up').sendBinary(payload, { ack: true }));
    await firstValueFrom(conn.channel('echo').request('ping')).catch(() => undefined); // one round trip (refused or not): pieces are flowing
    proxy.cut();
    await expect(acked).resolves.toMatchObject({ id: expect.any(Number) as number });
    await expect.poll(() => handled.filter((h) => h.channel === 'up').length, { timeout: 20_000 }).toBe(1);
    expect(handled.filter((h) => h.channel === 'up')).toEqual([{ channel: 'up', value: sha(payload) }]);
  });

  it('closing the connection mid-upload reports the message dropped and fails its ack: never silent', async () => {
    const { url, handled } = await recording({ limits: { ...UNPACED, transferWindow: 4 * KIB, chunkBytes: 4 * KIB } });
    const conn = await live(url);
    const dropped: DroppedMessage[] = [];
    conn.dropped$.subscribe((d) => dropped.push(d));
    const acked = lastValueFrom(conn.channel('up').sendBinary(bytesOf(2 * 1024 * KIB), { ack: true }));
    await new Promise((resolve) => setImmediate(resolve));
    conn.close();
    await expect(acked).rejects.toThrow();
    expect(dropped.map((d) => [d.channel, d.reason])).toEqual([['up', 'closed']]);
    expect(handled).toEqual([]);
  });
});

describe('downloads', () => {
  it('a 100-byte publication published after a 5 MB one on another channel reaches the client first; the large one whole and exact', async () => {
    const { server, url } = await recording();
    const conn = client(url);
    const order: string[] = [];
    const video = conn.channel('video');
    const whole = firstValueFrom(video.binary$);
    video.binary$.subscribe(() => order.push('video'));
    conn.channel('chat').subscribe(() => order.push('chat'));
    await opened(conn);
    await expect.poll(async () => (await server.presence('chat')).length + (await server.presence('video')).length).toBe(2);
    const payload = bytesOf(MB, 3);
    await server.publish('video', payload);
    await server.publish('chat', 'x'.repeat(100));
    expect(sha(await whole)).toBe(sha(payload));
    expect(order).toEqual(['chat', 'video']);
  });
});

describe('an old (v1) peer: whole frames', () => {
  it('a server without transfers and a client without them each keep v1; a large binary still goes, whole, under maxFrameBytes', async () => {
    for (const [serverTransfers, clientTransfers] of [
      [false, undefined],
      [true, false],
    ] as const) {
      const { url, handled } = await recording({ transfers: serverTransfers, limits: { ...UNPACED, maxFrameBytes: 1024 * KIB } }); // whole frames up to 1 MiB
      const conn = await live(url, clientTransfers === undefined ? {} : { transfers: clientTransfers });
      const payload = bytesOf(512 * KIB, 5);
      conn.channel('up').sendBinary(payload);
      await expect.poll(() => handled.length, { timeout: 20_000 }).toBe(1);
      expect(handled).toEqual([{ channel: 'up', value: sha(payload) }]);
      expect(() => conn.channel('up').sendBinary(bytesOf(2 * 1024 * KIB))).toThrow(/larger than the server takes/);
      conn.close();
    }
  });
});
