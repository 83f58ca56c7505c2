import { describe, expect, it } from 'vitest';
import { ErrorCode, type Frame } from '@rxmux/core/protocol';
import type { TClient } from './tclient.js';
import { connect, sleep, start } from './helpers.js';

/** A second, well-behaved client must keep working while the other one misbehaves. */
async function stillWorks(c: TClient, t: number): Promise<void> {
  c.send({ type: 'ping', t });
  expect(await c.waitForFrame((f) => f.type === 'pong' && f.t === t)).toBeTruthy();
}

describe('limits, each with its documented outcome', () => {
  it('closes 1009 on a frame over maxFrameBytes', async () => {
    const { client } = await start({ limits: { maxFrameBytes: 1024 } });
    const bad = await client();
    const good = await client();
    bad.send({ type: 'message', channel: 'x', data: 'y'.repeat(2000) });
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

  it('rate limits: error frame once, frames dropped, then close 1008 when sustained', async () => {
    const limited: string[] = [];
    const { server, client } = await start({
      limits: { ratePerSecond: 5, rateBurst: 10, rateLimitCloseAfter: 30 },
      hooks: { onRateLimited: (info) => void limited.push(info.session) },
    });
    const bad = await client();
    const good = await client();
    for (let t = 0; t < 15; t++) bad.send({ type: 'ping', t });
    expect(await bad.waitForFrame((f) => f.type === 'error')).toMatchObject({ code: ErrorCode.RateLimited });
    await sleep(100);
    const pongs = bad.queue.filter((f) => f.type === 'pong').length;
    expect(pongs).toBeGreaterThanOrEqual(8); // the burst (hello took one token)
    expect(pongs).toBeLessThan(15);
    expect(bad.queue.filter((f) => f.type === 'error')).toEqual([]); // one error per episode
    await stillWorks(good, 3);
    for (let t = 0; t < 40; t++) bad.send({ type: 'ping', t });
    expect(await bad.waitForClose()).toMatchObject({ code: 1008, reason: 'rate limit exceeded' });
    await stillWorks(good, 4);
    expect(limited).toHaveLength(1);
    expect(server.metrics().rateLimited).toBeGreaterThanOrEqual(30);
  });

  it('refuses subscriptions over maxChannelsPerConnection on that channel only', async () => {
    const { client } = await start({ limits: { maxChannelsPerConnection: 2 } });
    const a = await client();
    for (const channel of ['a', 'b', 'c']) a.send({ type: 'subscribe', channel });
    expect(await a.waitFor('error')).toMatchObject({ code: ErrorCode.TooManyChannels, channel: 'c' });
    const subscribed = [await a.waitFor('subscribed'), await a.waitFor('subscribed')].map((f) => f.channel);
    expect(subscribed).toEqual(['a', 'b']);
    a.send({ type: 'unsubscribe', channel: 'a' });
    a.send({ type: 'subscribe', channel: 'c' });
    expect(await a.waitFor('subscribed')).toMatchObject({ channel: 'c' });
  });

  it('drops a slow consumer with 1008 and tells the app; the fast subscriber gets everything', async () => {
    const slowHook: number[] = [];
    const { server, client } = await start({
      limits: { slowConsumerBytes: 512 * 1024, ratePerSecond: 1e6, rateBurst: 1e6 },
      hooks: { onSlowConsumer: (_info, bytes) => void slowHook.push(bytes) },
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
    expect(await slow.waitForClose(20_000)).toMatchObject({ code: 1008, reason: 'slow consumer' });
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

  it('terminates a socket that never says hello; 1008 if it keeps chattering', async () => {
    const { url, client } = await start({ heartbeat: { interval: 100, timeout: 350 } });
    const mute = await connect(url);
    const chatty = await connect(url);
    const alive = await client();
    const closed = chatty.waitForClose(3000);
    for (let i = 0; i < 30 && chatty.ws.readyState === chatty.ws.OPEN; i++) {
      chatty.send({ type: 'ping', t: i });
      await sleep(50);
    }
    expect(await closed).toEqual({ code: 1008, reason: 'no hello' });
    expect((await mute.waitForClose(3000)).code).toBe(1006);
    await stillWorks(alive, 7);
  });
});
