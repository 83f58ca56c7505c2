/**
 * Client and server limits agree by construction (issue 9.1): with the
 * default settings of both, the client never writes what the server would
 * refuse, and a refusal that does happen (a misbehaving raw client) is never
 * silent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import type { Connection, RxmuxError } from '@rxmux/core';
import { ErrorCode } from '@rxmux/core/protocol';
import { FaultProxy } from '../support/fault-proxy.js';
import { client as realClient, reaches, serve, wsUrl } from '../support/real.js';
import { until } from '../support/wait.js';
import { tclient } from '../server/tclient.js';

const proxies: FaultProxy[] = [];

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

/** Every default limit, on both sides: nothing here is tuned. */
const client = (port: number): Connection => realClient(wsUrl(port), { reconnect: { initialDelay: 20, maxDelay: 200 } });

const names = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('client and server limits agree (defaults on both sides)', () => {
  it('a client with 250 channels receives on every one', async () => {
    const server = await serve();
    const conn = client(server.port);
    const channels = names(250, 'many');
    const seen = new Set<string>();
    for (const id of channels) conn.channel(id).subscribe(() => seen.add(id));
    const errors: RxmuxError[] = [];
    conn.errors$.subscribe((e) => errors.push(e));
    expect(await until(async () => (await Promise.all(channels.map((c) => server.presence(c)))).every((m) => m.length === 1), 10_000)).toBe(true);
    for (const id of channels) await server.publish(id, id);
    expect(await until(() => seen.size === channels.length, 10_000)).toBe(true);
    expect(errors).toEqual([]);
    expect(server.metrics().rateLimited).toBe(0);
  }, 30_000);

  it('a reconnect with 120 channels and 100 sends buffered offline re-joins all 120 and delivers all 100', async () => {
    const server = await serve();
    const received: number[] = [];
    server.handle('inbox', { onMessage: (_ctx, data) => void received.push(data as number) });
    const proxy = await FaultProxy.start(server.port);
    proxies.push(proxy);
    const conn = client(proxy.port);
    const channels = names(120, 'rejoin');
    const seen = new Set<string>();
    for (const id of channels) conn.channel(id).subscribe(() => seen.add(id));
    expect(await until(async () => (await Promise.all(channels.map((c) => server.presence(c)))).every((m) => m.length === 1), 10_000)).toBe(true);

    // Offline: the server never hears of these until the link is back.
    proxy.blackhole(true);
    proxy.cut();
    await reaches(conn, 'reconnecting');
    for (let i = 0; i < 100; i++) conn.channel('inbox').send(i);
    proxy.blackhole(false);

    expect(await until(() => received.length === 100, 15_000)).toBe(true);
    expect(received).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(await until(async () => (await Promise.all(channels.map((c) => server.presence(c)))).every((m) => m.length === 1), 10_000)).toBe(true);
    for (const id of channels) await server.publish(id, id);
    expect(await until(() => seen.size === channels.length, 10_000)).toBe(true);
    expect(server.metrics().rateLimited).toBe(0);
  }, 40_000);

  it('a client sending large messages as fast as it can is paced by their size, never cut (a token per 16 KiB or more)', async () => {
    const server = await serve({ limits: { ratePerSecond: 1000, rateBurst: 40 } }); // 64 KiB frames: 16 KiB a token
    const received: number[] = [];
    server.handle('upload', { onMessage: (_ctx, data) => void received.push((data as { n: number }).n) });
    const conn = client(server.port);
    const upload = conn.channel<null, { n: number; blob: string }>('upload');
    const blob = 'x'.repeat(60 * 1024); // 4 tokens a message: 8 of them (what the offline buffer holds) are 32, more than the client's 75 % of the burst (30) allows at once
    for (let round = 0; round < 6; round++) {
      const acks = Array.from({ length: 8 }, (_, i) => firstValueFrom(upload.send({ n: round * 8 + i, blob }, { ack: true })));
      await Promise.all(acks);
    }
    expect(received).toEqual(Array.from({ length: 48 }, (_, n) => n));
    expect(server.metrics().rateLimited).toBe(0);
  }, 30_000);

  it("a JSON message or request over the server's maxFrameBytes (64 KiB) is refused at once with FRAME_TOO_BIG, never sent; the connection goes on", async () => {
    const server = await serve();
    const received: string[] = [];
    server.handle('big', { onMessage: (_ctx, data) => void received.push(data as string), onRequest: (_ctx, data) => (data as string).length });
    const conn = client(server.port);
    const channel = conn.channel<null, string>('big');
    channel.subscribe();
    await reaches(conn, 'open');
    const errors: RxmuxError[] = [];
    conn.errors$.subscribe((e) => errors.push(e));
    const large = 'j'.repeat(70 * 1024);
    expect(() => channel.send(large)).toThrow(expect.objectContaining({ code: ErrorCode.FrameTooBig }));
    await expect(firstValueFrom(channel.request(large))).rejects.toMatchObject({ code: ErrorCode.FrameTooBig });
    // Under the limit both go, on the same connection.
    const fits = 'j'.repeat(60 * 1024);
    expect(await firstValueFrom(channel.request(fits))).toBe(fits.length);
    channel.send(fits);
    expect(await until(() => received.length === 1, 10_000)).toBe(true);
    expect(errors).toEqual([]);
    expect(server.metrics().connections).toBe(1);
  });

  it('the welcome tells the client the limits it must keep', async () => {
    const server = await serve();
    const raw = await tclient(`ws://127.0.0.1:${server.port}/rt`);
    const welcome = await raw.hello();
    expect(welcome.limits).toEqual({ maxFrameBytes: 64 * 1024, maxBatch: 1024, rate: 100, burst: 200 });
    raw.ws.terminate();
  });

  it('a raw client that sends over the limit is told (error RATE_LIMITED) and closed with 1008, never dropped silently', async () => {
    const server = await serve();
    const raw = await tclient(`ws://127.0.0.1:${server.port}/rt`);
    await raw.hello();
    raw.send(`[${Array.from({ length: 201 }, (_, t) => `[14,${t}]`).join(',')}]`);
    expect(await raw.waitFor('error')).toMatchObject({ code: ErrorCode.RateLimited });
    expect(await raw.waitForClose()).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    expect(raw.queue.filter((f) => f.type === 'pong')).toEqual([]); // nothing of the refused batch ran
    expect(server.metrics().rateLimited).toBe(1);
  });
});
