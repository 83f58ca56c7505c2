/**
 * Delivery on the wire, with the raw test client: session resume, duplicate
 * message and request ids, seq + epoch on publications, replay and gap frames.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type Frame } from '@rxmux/core/protocol';
import { gated } from '../support/gated.js';
import { connect, hello, sleep, slowHistoryEngine, start } from './helpers.js';

const isPub = (channel: string) => (f: Frame): boolean => f.type === 'publication' && f.channel === channel;


describe('session resume', () => {
  it('resumes a session named in hello after its socket dropped; a 128-bit id; unknown ids get a new session', async () => {
    const { url, server } = await start();
    const first = await hello(url);
    expect(first.welcome.resumed).toBeUndefined();
    expect(Buffer.from(first.welcome.session, 'base64url').length).toBe(16);
    first.c.ws.terminate();
    await expect.poll(() => server.metrics().detachedSessions).toBe(1);
    const again = await hello(url, first.welcome.session);
    expect(again.welcome).toMatchObject({ session: first.welcome.session, resumed: true });
    const stranger = await hello(url, 'no-such-session');
    expect(stranger.welcome.resumed).toBe(false);
    expect(stranger.welcome.session).not.toBe('no-such-session');
  });

  it('forgets a detached session after sessionTtlMs, and at once after a normal close (1000)', async () => {
    const { url, server } = await start({ limits: { sessionTtlMs: 80 } });
    const a = await hello(url);
    a.c.ws.terminate();
    await expect.poll(() => server.metrics().detachedSessions).toBe(1);
    await expect.poll(() => server.metrics().detachedSessions, { timeout: 2000 }).toBe(0);
    expect((await hello(url, a.welcome.session)).welcome.resumed).toBe(false);
    const b = await hello(url);
    b.c.close(1000);
    await b.c.waitForClose();
    await sleep(20);
    expect((await hello(url, b.welcome.session)).welcome.resumed).toBe(false);
  });

  it('keeps at most maxDetachedSessions (the oldest goes first)', async () => {
    const { url, server } = await start({ limits: { maxDetachedSessions: 2 } });
    const sessions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await hello(url);
      sessions.push(s.welcome.session);
      s.c.ws.terminate();
      await expect.poll(() => server.metrics().detachedSessions).toBe(Math.min(i + 1, 2));
    }
    expect((await hello(url, sessions[0])).welcome.resumed).toBe(false);
    expect((await hello(url, sessions[2])).welcome.resumed).toBe(true);
  });

  it('a resuming hello takes the session over from a socket that still holds it', async () => {
    const { url } = await start();
    const old = await hello(url);
    const taker = await hello(url, old.welcome.session);
    expect(taker.welcome.resumed).toBe(true);
    expect((await old.c.waitForClose()).code).toBe(1006);
  });

  it('does not resume a session for another principal', async () => {
    const { url } = await start<string>({ authenticate: (req) => req.headers['x-user'] as string });
    const ann = await connect(url, { headers: { 'x-user': 'ann' } });
    ann.send({ type: 'hello', version: 1 });
    const { session } = await ann.waitFor('welcome');
    ann.ws.terminate();
    const bob = await connect(url, { headers: { 'x-user': 'bob' } });
    bob.send({ type: 'hello', version: 1, session });
    expect(await bob.waitFor('welcome')).toMatchObject({ resumed: false });
  });
});

describe('effectively once, client to server', () => {
  it('acks a duplicate message id again without running the handler; a running one is answered once it finishes', async () => {
    const { url, server } = await start();
    const seen: unknown[] = [];
    let release: (() => void) | undefined;
    server.handle('log', {
      onMessage: (_ctx, data) => {
        seen.push(data);
        if (data === 'slow') return new Promise<void>((resolve) => (release = resolve));
      },
    });
    const a = await hello(url);
    a.c.send({ type: 'message', channel: 'log', data: 'one', id: 1 });
    expect(await a.c.waitFor('ack')).toEqual({ type: 'ack', id: 1 });
    a.c.send({ type: 'message', channel: 'log', data: 'slow', id: 2 });
    await expect.poll(() => release).toBeDefined();
    a.c.ws.terminate(); // the socket drops while message 2's handler runs
    const b = await hello(url, a.welcome.session);
    b.c.send({ type: 'message', channel: 'log', data: 'one', id: 1 });
    b.c.send({ type: 'message', channel: 'log', data: 'slow', id: 2 });
    expect(await b.c.waitFor('ack')).toEqual({ type: 'ack', id: 1 });
    await b.c.expectNoFrame((f) => f.type === 'ack', 50);
    release?.();
    expect(await b.c.waitFor('ack')).toEqual({ type: 'ack', id: 2 });
    await b.c.expectNoFrame((f) => f.type === 'ack', 50);
    expect(seen).toEqual(['one', 'slow']);
  });

  it('delivers an answer that completed while detached right after the resuming welcome', async () => {
    const { url, server } = await start();
    let release: (() => void) | undefined;
    server.handle('slow', { onMessage: () => new Promise<void>((resolve) => (release = resolve)) });
    const a = await hello(url);
    a.c.send({ type: 'message', channel: 'slow', data: null, id: 9 });
    await expect.poll(() => release).toBeDefined();
    a.c.ws.terminate();
    await expect.poll(() => server.metrics().detachedSessions).toBe(1);
    release?.();
    const b = await hello(url, a.welcome.session);
    expect(await b.c.waitFor('ack')).toEqual({ type: 'ack', id: 9 });
  });

  it('answers a refused or failing message with error {id} (not ack); remembers the failure', async () => {
    const { url, server } = await start({ authorize: (_p, channel, action) => action === 'subscribe' || channel !== 'closed' });
    let runs = 0;
    server.handle('*', {
      onMessage: () => {
        runs++;
        throw new Error('boom');
      },
    });
    const a = await hello(url);
    a.c.send({ type: 'message', channel: 'closed', data: 1, id: 1 });
    expect(await a.c.waitFor('error')).toMatchObject({ code: ErrorCode.Forbidden, channel: 'closed', id: 1 });
    a.c.send({ type: 'message', channel: 'open', data: 1, id: 2 });
    a.c.send({ type: 'message', channel: 'open', data: 1, id: 2 });
    expect(await a.c.waitFor('error')).toMatchObject({ code: ErrorCode.Remote, channel: 'open', id: 2 });
    expect(await a.c.waitFor('error')).toMatchObject({ code: ErrorCode.Remote, channel: 'open', id: 2 });
    await a.c.expectNoFrame((f) => f.type === 'ack', 50);
    expect(runs).toBe(1);
  });

  it('remembers dedupeWindow ids: an older duplicate runs again', async () => {
    const { url, server } = await start({ limits: { dedupeWindow: 2 } });
    const seen: number[] = [];
    server.handle('n', { onMessage: (_ctx, data) => void seen.push(data as number) });
    const a = await hello(url);
    for (const id of [1, 2, 3, 3, 2, 1]) a.c.send({ type: 'message', channel: 'n', data: id, id });
    for (let i = 0; i < 6; i++) await a.c.waitFor('ack');
    expect(seen).toEqual([1, 2, 3, 1]);
  });

  it('does not run a re-sent request twice: one answer while running, the cached reply once answered', async () => {
    const { url, server } = await start();
    const calc = gated<number>();
    server.handle('calc', calc.handler);
    const a = await hello(url);
    a.c.send({ type: 'request', channel: 'calc', id: 5, data: null });
    await expect.poll(() => calc.runs).toBe(1);
    a.c.ws.terminate();
    const b = await hello(url, a.welcome.session);
    b.c.send({ type: 'request', channel: 'calc', id: 5, data: null });
    await sleep(20);
    calc.release(42);
    expect(await b.c.waitFor('response')).toEqual({ type: 'response', id: 5, data: 42 });
    await b.c.expectNoFrame((f) => f.type === 'response', 50);
    b.c.send({ type: 'request', channel: 'calc', id: 5, data: null });
    expect(await b.c.waitFor('response')).toEqual({ type: 'response', id: 5, data: 42 });
    expect(calc.runs).toBe(1);
  });
});

describe('in order, resumable, server to client', () => {
  it('numbers publications; a fresh subscribe gets subscribed {epoch, seq: newest} and live only', async () => {
    const { url, server } = await start();
    await server.publish('news', 'old');
    const { c } = await hello(url);
    c.send({ type: 'subscribe', channel: 'news' });
    const subscribed = await c.waitFor('subscribed');
    expect(subscribed).toMatchObject({ channel: 'news', seq: 1 });
    expect(subscribed.epoch).toMatch(/^[A-Za-z0-9_-]+$/);
    await server.publish('news', 'new');
    expect(await c.waitForFrame(isPub('news'))).toEqual({ type: 'publication', channel: 'news', data: 'new', seq: 2 });
    await c.expectNoFrame(isPub('news'), 30);
  });

  it('replays (since, newest] after subscribed, then live, nothing twice; binary keeps its seq', async () => {
    const { url, server } = await start();
    const { c } = await hello(url);
    c.send({ type: 'subscribe', channel: 'feed' });
    const { epoch } = await c.waitFor('subscribed');
    for (let i = 1; i <= 5; i++) await server.publish('feed', i === 4 ? new Uint8Array([4]) : i);
    const again = await hello(url);
    again.c.send({ type: 'subscribe', channel: 'feed', since: 2, epoch });
    expect(await again.c.waitFor('subscribed')).toEqual({ type: 'subscribed', channel: 'feed', epoch, seq: 5 });
    await server.publish('feed', 6);
    const got: Frame[] = [];
    for (let i = 0; i < 4; i++) got.push(await again.c.waitForFrame(isPub('feed')));
    expect(got.map((f) => (f.type === 'publication' ? f.seq : -1))).toEqual([3, 4, 5, 6]);
    await again.c.expectNoFrame((f) => f.type === 'publication' || f.type === 'gap', 30);
  });

  it('sends gap {reason: history} when the history no longer covers since, {reason: epoch} for another epoch; then live', async () => {
    const { url, server } = await start({ limits: { historySize: 3 } });
    const { c } = await hello(url);
    c.send({ type: 'subscribe', channel: 'feed' });
    const { epoch } = await c.waitFor('subscribed');
    for (let i = 1; i <= 10; i++) await server.publish('feed', i);
    for (let i = 1; i <= 10; i++) await c.waitForFrame(isPub('feed')); // live while joined
    c.send({ type: 'unsubscribe', channel: 'feed' });
    c.send({ type: 'subscribe', channel: 'feed', since: 2, epoch });
    expect(await c.waitFor('gap')).toEqual({ type: 'gap', channel: 'feed', epoch, seq: 10, reason: 'history', since: 2 });
    expect(await c.waitFor('subscribed')).toMatchObject({ epoch, seq: 10 });
    c.send({ type: 'unsubscribe', channel: 'feed' });
    c.send({ type: 'subscribe', channel: 'feed', since: 9, epoch: 'another-epoch' });
    expect(await c.waitFor('gap')).toMatchObject({ reason: 'epoch', epoch, seq: 10, since: 9 });
    await server.publish('feed', 11);
    expect(await c.waitForFrame(isPub('feed'))).toMatchObject({ seq: 11 });
    await c.expectNoFrame(isPub('feed'), 30);
  });

  it('with an asynchronous engine, publications racing the replay are neither lost nor doubled', async () => {
    // The memory engine, but history() answers a few ms late while publishing goes on.
    const slow = slowHistoryEngine(15, 'late');
    const { url, server } = await start({ engine: slow });
    const { c } = await hello(url);
    c.send({ type: 'subscribe', channel: 'feed' });
    const { epoch } = await c.waitFor('subscribed');
    for (let i = 1; i <= 3; i++) await server.publish('feed', i);
    const again = await hello(url);
    again.c.send({ type: 'subscribe', channel: 'feed', since: 1, epoch });
    const publishing = (async () => {
      for (let i = 4; i <= 12; i++) {
        await server.publish('feed', i);
        await sleep(3);
      }
    })();
    await publishing;
    const seqs: number[] = [];
    while (seqs.length < 11) {
      const f = await again.c.waitForFrame(isPub('feed'));
      if (f.type === 'publication') seqs.push(f.seq ?? -1);
    }
    expect(seqs).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    await again.c.expectNoFrame(isPub('feed'), 30);
    const order = again.c.raw.join('');
    expect(order.indexOf('[6,')).toBeLessThan(order.indexOf('[1,'));
  });
});
