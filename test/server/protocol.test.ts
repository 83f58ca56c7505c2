import { describe, expect, it } from 'vitest';
import { ErrorCode, type Frame, type JsonValue } from '@rxmux/core/protocol';
import type { PresenceEvent as ServerPresenceEvent } from '@rxmux/server';
import { until } from '../support/wait.js';
import { connect, start } from './helpers.js';

const isPub = (channel: string) => (f: Frame): boolean => f.type === 'publication' && f.channel === channel;

describe('session', () => {
  it('answers hello with welcome: version, a fresh session id, the heartbeat interval', async () => {
    const { client } = await start({ heartbeat: { interval: 1234, timeout: 5000 } });
    const a = await client();
    const b = await client();
    expect(a.raw.length).toBe(1);
    const welcomes = [a, b].map((c) => JSON.parse(c.raw[0] as string) as JsonValue[]);
    expect(welcomes[0]?.[0]).toBe(3);
    expect(welcomes[0]?.[1]).toBe(1);
    expect(welcomes[0]?.[3]).toBe(1234);
    expect(welcomes[0]?.[2]).not.toBe(welcomes[1]?.[2]);
  });

  it('answers ping with pong carrying the same t', async () => {
    const { client } = await start();
    const a = await client();
    a.send({ type: 'ping', t: 42 });
    expect(await a.waitFor('pong')).toEqual({ type: 'pong', t: 42 });
  });

  it('lets two clients exchange on a channel through a relaying handler', async () => {
    const { server, client } = await start();
    server.handle('room', { onMessage: (ctx, data) => ctx.publish(data) });
    const a = await client();
    const b = await client();
    for (const c of [a, b]) {
      c.send({ type: 'subscribe', channel: 'room' });
      await c.waitFor('subscribed');
    }
    a.send({ type: 'message', channel: 'room', data: { from: 'a' }, id: 1 });
    expect(await a.waitFor('ack')).toEqual({ type: 'ack', id: 1 });
    expect(await b.waitForFrame(isPub('room'))).toEqual({ type: 'publication', channel: 'room', data: { from: 'a' }, seq: 1 });
    b.send({ type: 'message', channel: 'room', data: 'hi a' });
    expect(await a.waitForFrame((f) => f.type === 'publication' && f.data === 'hi a')).toMatchObject({ channel: 'room' });
  });

  it('routes binary messages and publishes binary without base64', async () => {
    const { server, client } = await start();
    const got: Uint8Array[] = [];
    server.handle('pcm', {
      onMessage: (ctx, data) => {
        if (data instanceof Uint8Array) got.push(data.slice());
        ctx.publish(data);
      },
    });
    const a = await client();
    a.send({ type: 'subscribe', channel: 'pcm' });
    await a.waitFor('subscribed');
    a.send({ type: 'message', channel: 'pcm', data: new Uint8Array([1, 2, 3]), id: 7 });
    const pub = await a.waitForFrame(isPub('pcm'));
    expect(pub.type === 'publication' && Array.from(pub.data as Uint8Array)).toEqual([1, 2, 3]);
    expect(await a.waitFor('ack')).toEqual({ type: 'ack', id: 7 });
    expect(got.map((b) => Array.from(b))).toEqual([[1, 2, 3]]);
    expect(a.raw.some((m) => m instanceof Uint8Array)).toBe(true);
  });

  it('resolves pattern handlers; exact names win over patterns, longer patterns over shorter', async () => {
    const { server, client } = await start();
    const seen: string[] = [];
    server.handle('player-*', { onMessage: (ctx) => void seen.push(`pattern:${ctx.channel}`) });
    server.handle('player-1*', { onMessage: (ctx) => void seen.push(`longer:${ctx.channel}`) });
    server.handle('player-2', { onMessage: (ctx) => void seen.push(`exact:${ctx.channel}`) });
    const a = await client();
    for (const [i, channel] of ['player-7', 'player-12', 'player-2', 'player-7'].entries()) {
      a.send({ type: 'message', channel, data: null, id: i });
      await a.waitFor('ack');
    }
    expect(seen).toEqual(['pattern:player-7', 'longer:player-12', 'exact:player-2', 'pattern:player-7']);
    a.send({ type: 'message', channel: 'nobody', data: 1, id: 99 });
    expect(await a.waitFor('error')).toMatchObject({ code: ErrorCode.NoHandler, channel: 'nobody' });
  });

  it('answers requests with response, request-error, or a coded error thrown by the handler', async () => {
    const { server, client } = await start();
    server.handle('calc', {
      onRequest: (ctx, data) => {
        const { op } = data as { op: string };
        if (op === 'add') return 1 + 2;
        if (op === 'fail') return ctx.fail('APP_ERR_NOPE', 'not today');
        if (op === 'later') {
          setTimeout(() => ctx.reply('late'), 10);
          return new Promise(() => undefined) as never;
        }
        throw Object.assign(new Error('bad op'), { code: 'APP_ERR_BAD_OP' });
      },
    });
    server.handle('broken', {
      onRequest: () => {
        throw new Error('secret internals');
      },
    });
    const a = await client();
    a.send({ type: 'request', channel: 'calc', id: 1, data: { op: 'add' } });
    expect(await a.waitFor('response')).toEqual({ type: 'response', id: 1, data: 3 });
    a.send({ type: 'request', channel: 'calc', id: 2, data: { op: 'fail' } });
    expect(await a.waitFor('request-error')).toEqual({ type: 'request-error', id: 2, code: 'APP_ERR_NOPE', message: 'not today' });
    a.send({ type: 'request', channel: 'calc', id: 3, data: { op: 'zzz' } });
    expect(await a.waitFor('request-error')).toMatchObject({ id: 3, code: 'APP_ERR_BAD_OP' });
    a.send({ type: 'request', channel: 'calc', id: 4, data: { op: 'later' } });
    expect(await a.waitFor('response')).toEqual({ type: 'response', id: 4, data: 'late' });
    a.send({ type: 'request', channel: 'broken', id: 5, data: null });
    const err = await a.waitFor('request-error');
    expect(err).toMatchObject({ id: 5, code: ErrorCode.Remote });
    expect(err.message).not.toContain('secret');
    a.send({ type: 'request', channel: 'nowhere', id: 6, data: null });
    expect(await a.waitFor('request-error')).toMatchObject({ id: 6, code: ErrorCode.NoHandler });
  });

  it('aborts the handler signal on cancel and sends no response', async () => {
    const { server, client } = await start();
    let aborted = false;
    server.handle('slow', {
      onRequest: (ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            resolve('too late');
          });
        }),
    });
    const a = await client();
    a.send({ type: 'request', channel: 'slow', id: 1, data: null });
    a.send({ type: 'cancel', id: 1 });
    a.send({ type: 'cancel', id: 999 }); // unknown id: ignored
    a.send({ type: 'ping', t: 1 });
    await a.waitFor('pong');
    expect(aborted).toBe(true);
    await a.expectNoFrame((f) => f.type === 'response' || f.type === 'error');
  });

  it('publishes from the app to every subscriber, serialized once and batched per turn', async () => {
    const { server, client } = await start();
    const a = await client();
    const b = await client();
    for (const c of [a, b]) {
      c.send({ type: 'subscribe', channel: 'news' });
      c.send({ type: 'subscribe', channel: 'other' });
      await c.waitForFrame((f) => f.type === 'subscribed' && f.channel === 'other');
    }
    const before = a.raw.length;
    for (let i = 0; i < 5; i++) void server.publish('news', { i });
    void server.publish('other', 'x');
    for (let i = 0; i < 5; i++) expect(await a.waitForFrame(isPub('news'))).toMatchObject({ data: { i } });
    await b.waitForFrame(isPub('other'));
    expect(a.raw.length - before).toBe(1); // six envelopes, one WebSocket message
    expect(JSON.parse(a.raw[before] as string)).toHaveLength(6);
    const m = server.metrics();
    expect(m).toMatchObject({ connections: 2, channels: 2 });
    expect(m.framesOut).toBeGreaterThanOrEqual(12);
    expect(m.bytesIn).toBeGreaterThan(0);
  });

  it('splits a batch where the peer decode limits (maxBatch, maxFrameBytes) require it', async () => {
    const { server, url } = await start();
    const a = await connect(url);
    a.send({ type: 'hello', version: 1, limits: { maxBatch: 32, maxFrameBytes: 8192 } }); // what this client decodes
    await a.waitFor('welcome');
    a.send({ type: 'subscribe', channel: 'n' });
    await a.waitFor('subscribed');
    const before = a.raw.length;
    for (let i = 0; i < 70; i++) void server.publish('n', i);
    void server.publish('n', 'x'.repeat(6000));
    void server.publish('n', 'y'.repeat(6000));
    for (let i = 0; i < 72; i++) await a.waitForFrame(isPub('n'));
    const sizes = a.raw.slice(before).map((m) => {
      const parsed = JSON.parse(m as string) as unknown[];
      return Array.isArray(parsed[0]) ? parsed.length : 1;
    });
    expect(sizes).toEqual([32, 32, 7, 1]);
    expect(a.raw.slice(before).every((m) => (m as string).length <= 8192)).toBe(true);
  });

  it("the server's maxFrameBytes bounds what it takes, not what it writes: the client's own limit (or the decode default) does", async () => {
    const { server, url } = await start({ limits: { maxFrameBytes: 8192 } });
    const announced = await connect(url);
    announced.send({ type: 'hello', version: 1, limits: { maxBatch: 1024, maxFrameBytes: 64 * 1024 } });
    await announced.waitFor('welcome');
    const silent = await connect(url);
    silent.send({ type: 'hello', version: 1 }); // no limits: the decode defaults (1 MiB)
    await silent.waitFor('welcome');
    for (const c of [announced, silent]) {
      c.send({ type: 'subscribe', channel: 'wide' });
      await c.waitFor('subscribed');
    }
    const wide = 'w'.repeat(20_000); // over the server's 8192, under both clients' limits
    await server.publish('wide', wide);
    for (const c of [announced, silent]) expect(await c.waitFor('publication')).toMatchObject({ channel: 'wide', seq: 1, data: wide });
    announced.send(`[0,"wide",${JSON.stringify(wide)}]`); // what the server takes is still 8192
    expect((await announced.waitForClose()).code).toBe(1009);
  });

  it('reports presence and join/leave notifications', async () => {
    const { server, client } = await start<{ name: string }>({ authenticate: (req) => ({ name: String(req.headers['x-user']) }) });
    const events: ServerPresenceEvent<{ name: string }>[] = [];
    const stop = server.onPresence((e) => events.push(e));
    const seen: string[] = [];
    server.handle('lobby', { onSubscribe: (ctx) => void seen.push(`+${ctx.principal.name}`), onUnsubscribe: (ctx) => void seen.push(`-${ctx.principal.name}`) });
    const ann = await client({ headers: { 'x-user': 'ann' } });
    const bob = await client({ headers: { 'x-user': 'bob' } });
    ann.send({ type: 'subscribe', channel: 'lobby' });
    bob.send({ type: 'subscribe', channel: 'lobby' });
    await ann.waitFor('subscribed');
    await bob.waitFor('subscribed');
    const members = await server.presence('lobby');
    expect(members.map((m) => m.principal.name).sort()).toEqual(['ann', 'bob']);
    expect(members.every((m) => m.transport === 'ws' && typeof m.session === 'string')).toBe(true);
    bob.send({ type: 'unsubscribe', channel: 'lobby' });
    ann.close();
    await ann.waitForClose();
    for (let i = 0; i < 50 && (await server.presence('lobby')).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await server.presence('lobby')).toEqual([]);
    expect(events.map((e) => `${e.type}:${e.member.principal.name}`)).toEqual(['join:ann', 'join:bob', 'leave:bob', 'leave:ann']);
    expect(seen).toEqual(['+ann', '+bob', '-bob', '-ann']);
    stop();
  });
});

describe('PROTOCOL.md and the code agree (issue 9.7)', () => {
  it('subscribing needs no handler: authorize alone decides (5.4)', async () => {
    const { client } = await start();
    const c = await client();
    c.send({ type: 'subscribe', channel: 'nobody-handles-this' });
    expect(await c.waitFor('subscribed')).toMatchObject({ channel: 'nobody-handles-this' });
  });

  it('authorize runs before the handler check: a refused client cannot tell which channels have handlers (5.0, 5.10)', async () => {
    const { server, client } = await start({ authorize: (_p, channel) => !channel.startsWith('secret') });
    server.handle('secret-with-handler', { onMessage: () => undefined, onRequest: () => 1 });
    const c = await client();
    for (const channel of ['secret-with-handler', 'secret-without']) {
      c.send({ type: 'message', channel, data: 1, id: 7 });
      expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.Forbidden, channel, id: 7 });
      c.send({ type: 'request', channel, id: 8, data: null });
      expect(await c.waitFor('request-error')).toMatchObject({ code: ErrorCode.Forbidden, id: 8 });
    }
    c.send({ type: 'message', channel: 'open-without', data: 1, id: 9 });
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.NoHandler, channel: 'open-without', id: 9 });
    c.send({ type: 'request', channel: 'open-without', id: 10, data: null });
    expect(await c.waitFor('request-error')).toMatchObject({ code: ErrorCode.NoHandler, id: 10 });
  });

  it('hooks.onClose reports the code the server closed with (1008 slow consumer), not the 1006 the socket saw', async () => {
    const closes: [number, string][] = [];
    const { server, client } = await start({
      limits: { slowConsumerBytes: 256 * 1024, maxFrameBytes: 128 * 1024, ratePerSecond: 1e6, rateBurst: 1e6 },
      hooks: { onClose: (_info, code, reason) => void closes.push([code, reason]) },
    });
    const slow = await client();
    slow.send({ type: 'subscribe', channel: 'firehose' });
    await slow.waitFor('subscribed');
    slow.ws.pause(); // never reads again, never answers the close frame
    const chunk = 'z'.repeat(100 * 1024);
    for (let i = 0; i < 200 && server.metrics().slowConsumers === 0; i++) {
      await server.publish('firehose', chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(server.metrics().slowConsumers).toBe(1);
    slow.ws.terminate(); // the peer vanishes without a close frame: the socket itself sees 1006
    expect(await until(() => closes.length === 1, 5_000)).toBe(true);
    expect(closes).toEqual([[1008, 'slow consumer']]);
  });
});
