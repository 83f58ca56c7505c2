import { describe, expect, it } from 'vitest';
import { ErrorCode, type Frame } from '@rxmux/core/protocol';
import type { TClient } from './tclient.js';
import { connect, sleep, start } from './helpers.js';

/** A second, well-behaved client must keep working while the other one misbehaves. */
async function stillWorks(c: TClient, t: number): Promise<void> {
  c.send({ type: 'ping', t });
  expect(await c.waitFor('pong')).toEqual({ type: 'pong', t });
}

describe('limits, each with its documented outcome', () => {
  it('closes 1009 on a frame over maxFrameBytes', async () => {
    const { client } = await start({ limits: { maxFrameBytes: 8192 } });
    const bad = await client();
    const good = await client();
    bad.send({ type: 'message', channel: 'x', data: 'y'.repeat(9000) });
    expect((await bad.waitForClose()).code).toBe(1009);
    await stillWorks(good, 1);
  });

  it('closes 1007 on a text frame that is not UTF-8', async () => {
    const { client } = await start();
    const bad = await client();
    const good = await client();
    bad.ws.send(Buffer.from([0x5b, 0xff, 0xfe, 0x5d]), { binary: false });
    expect((await bad.waitForClose()).code).toBe(1007);
    await stillWorks(good, 2);
  });

  it('rate limit: a message over the bucket gets error RATE_LIMITED and close 1008; none of it runs; others unaffected', async () => {
    const limited: string[] = [];
    const { server, client } = await start({
      limits: { ratePerSecond: 5, rateBurst: 32 },
      hooks: { onRateLimited: (info) => void limited.push(info.session) },
    });
    const bad = await client();
    const good = await client();
    for (let t = 0; t < 31; t++) bad.send({ type: 'ping', t }); // the burst (hello took one token)
    for (let t = 0; t < 31; t++) await bad.waitForFrame((f) => f.type === 'pong' && f.t === t);
    bad.send({ type: 'ping', t: 99 });
    expect(await bad.waitFor('error')).toMatchObject({ code: ErrorCode.RateLimited });
    expect(await bad.waitForClose()).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    expect(bad.queue.filter((f) => f.type === 'pong')).toEqual([]);
    await stillWorks(good, 3);
    expect(limited).toHaveLength(1);
    expect(server.metrics().rateLimited).toBe(1);
  });

  it('refuses subscriptions over maxChannelsPerConnection on that channel only', async () => {
    const { client } = await start({ limits: { maxChannelsPerConnection: 2 } });
    const a = await client();
    for (const channel of ['a', 'b', 'c']) a.send({ type: 'subscribe', channel });
    expect(await a.waitFor('unsubscribed')).toMatchObject({ code: ErrorCode.TooManyChannels, channel: 'c' });
    const subscribed = [await a.waitFor('subscribed'), await a.waitFor('subscribed')].map((f) => f.channel);
    expect(subscribed).toEqual(['a', 'b']);
    a.send({ type: 'unsubscribe', channel: 'a' });
    a.send({ type: 'subscribe', channel: 'c' });
    expect(await a.waitFor('subscribed')).toMatchObject({ channel: 'c' });
  });

  it('drops a slow consumer with 1008 at once (its buffers let go) and tells the app; the fast subscriber gets everything', async () => {
    const slowHook: number[] = [];
    const closes: [number, string][] = [];
    const { server, client } = await start({
      limits: { slowConsumerBytes: 512 * 1024, ratePerSecond: 1e6, rateBurst: 1e6 },
      hooks: { onSlowConsumer: (_info, bytes) => void slowHook.push(bytes), onClose: (_info, code, reason) => void closes.push([code, reason]) },
    });
    const slow = await client();
    const fast = await client();
    for (const c of [slow, fast]) {
      c.send({ type: 'subscribe', channel: 'firehose' });
      await c.waitFor('subscribed');
    }
    slow.ws.pause();
    const chunk = 'z'.repeat(64 * 1024);
    let sent = 0;
    for (; sent < 1000 && slowHook.length === 0; sent++) {
      await server.publish('firehose', chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(slowHook.length).toBe(1);
    expect(slowHook[0]).toBeGreaterThan(512 * 1024);
    expect(server.metrics().slowConsumers).toBe(1);
    for (let i = 0; i < sent; i++) await fast.waitForFrame((f: Frame) => f.type === 'publication', 10_000);
    await stillWorks(fast, 5);
    slow.ws.resume();
    // Destroyed, not closed after what it buffered: a client that does not read would hold the server's memory
    // for the whole close handshake. It sees the socket drop; the app is told 1008.
    expect(await slow.waitForClose(20_000)).toMatchObject({ code: 1006 });
    expect(closes).toContainEqual([1008, 'slow consumer']);
  }, 40_000);

  it('pings (protocol and WebSocket) and terminates a silent connection after the timeout', async () => {
    const { url, client } = await start({ heartbeat: { interval: 100, timeout: 350 } });
    const alive = await client(); // ws answers WebSocket pings automatically
    const silent = await connect(url, { autoPong: false });
    silent.send({ type: 'hello', version: 1 });
    await silent.waitFor('welcome');
    expect(await alive.waitFor('ping', 2000)).toMatchObject({ type: 'ping' });
    const startedAt = Date.now();
    expect((await silent.waitForClose(3000)).code).toBe(1006);
    expect(Date.now() - startedAt).toBeLessThan(2000);
    await sleep(400);
    await stillWorks(alive, 6);
  });

  it('terminates a socket that never says hello; 1008 if it keeps chattering (with pongs, the one frame allowed before hello)', async () => {
    const { url, client } = await start({ heartbeat: { interval: 100, timeout: 350 } });
    const mute = await connect(url);
    const chatty = await connect(url);
    const alive = await client();
    const closed = chatty.waitForClose(3000);
    for (let i = 0; i < 30 && chatty.ws.readyState === chatty.ws.OPEN; i++) {
      chatty.send({ type: 'pong', t: i });
      await sleep(50);
    }
    expect(await closed).toEqual({ code: 1008, reason: 'no hello' });
    expect((await mute.waitForClose(3000)).code).toBe(1006);
    await stillWorks(alive, 7);
  });
});
