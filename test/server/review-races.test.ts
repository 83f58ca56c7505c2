/** Races found in a review of the server; each test failed before its fix. */
import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeText, ProtocolError } from '@rxmux/core/protocol';
import { connect, hello, sleep, slowHistoryEngine, start } from './helpers.js';

describe('server races', () => {
  it('a resume that takes over a still-open socket keeps the new socket in presence after the old one closes', async () => {
    const { url, server } = await start();
    const a = await hello(url);
    a.c.send({ type: 'subscribe', channel: 'room' });
    await a.c.waitFor('subscribed');
    const b = await connect(url);
    b.send(encodeBatch([encodeText({ type: 'hello', version: 1, session: a.welcome.session }), encodeText({ type: 'subscribe', channel: 'room' })]));
    await b.waitFor('subscribed');
    await a.c.waitForClose();
    await sleep(50);
    expect(await server.presence('room')).toHaveLength(1);
    await server.publish('room', 'still here');
    expect((await b.waitFor('publication')).data).toBe('still here');
  });

  it('a request whose socket drops during an async authorize runs when the resumed client re-sends it', async () => {
    const { url, server } = await start({ authorize: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 100)) });
    server.handle('svc', { onRequest: () => 42 });
    const a = await hello(url);
    a.c.send({ type: 'request', channel: 'svc', id: 1, data: null });
    await sleep(10);
    a.c.ws.terminate();
    await sleep(200);
    const b = await hello(url, a.welcome.session);
    expect(b.welcome.resumed).toBe(true);
    b.c.send({ type: 'request', channel: 'svc', id: 1, data: null });
    expect(await b.c.waitForFrame((f) => f.type === 'response' || f.type === 'request-error', 2000)).toMatchObject({ type: 'response', id: 1, data: 42 });
  });

  it('an unencodable publication held during an async history read costs only itself', async () => {
    const slow = slowHistoryEngine(30, 'early');
    const errors: unknown[] = [];
    const { url, server } = await start({ engine: slow, hooks: { onError: (error) => void errors.push(error) } });
    const { c } = await hello(url);
    c.send({ type: 'subscribe', channel: 'feed' });
    await sleep(5);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => server.publish('feed', cyclic as never)).toThrow(ProtocolError); // refused at once: it takes no seq
    await c.waitFor('subscribed');
    c.send({ type: 'ping', t: 1 });
    expect(await c.waitFor('pong', 2000)).toMatchObject({ t: 1 });
    await server.publish('feed', 'fine');
    expect((await c.waitFor('publication', 2000)).data).toBe('fine');
    expect(errors).toEqual([]); // refused by publish() itself: nothing failed later on the way
  });
});

describe('memory engine history bounds', () => {
  it('subscribers of unpublished channels cannot evict a live history (no epoch reset for others)', async () => {
    const { url, server } = await start({ limits: { historyChannels: 2 } });
    const a = await hello(url);
    a.c.send({ type: 'subscribe', channel: 'live' });
    const first = await a.c.waitFor('subscribed');
    await server.publish('live', 1);
    expect(await a.c.waitFor('publication')).toMatchObject({ seq: 1 });
    const x = await hello(url);
    for (const channel of ['nothing-1', 'nothing-2', 'nothing-3']) x.c.send({ type: 'subscribe', channel });
    for (let i = 0; i < 3; i++) await x.c.waitFor('subscribed');
    await server.publish('live', 2);
    expect(await a.c.waitFor('publication')).toMatchObject({ seq: 2, data: 2 });
    await a.c.expectNoFrame((f) => f.type === 'gap');
    // a subscriber told the placeholder epoch keeps it when the channel's first publish creates the history
    x.c.send({ type: 'unsubscribe', channel: 'nothing-3' });
    const fresh = await hello(url);
    fresh.c.send({ type: 'subscribe', channel: 'later' });
    const told = await fresh.c.waitFor('subscribed');
    await server.publish('later', 'x');
    await fresh.c.waitFor('publication');
    fresh.c.send({ type: 'unsubscribe', channel: 'later' });
    fresh.c.send({ type: 'subscribe', channel: 'later', since: 1, epoch: told.epoch as string });
    expect(await fresh.c.waitFor('subscribed')).toMatchObject({ epoch: told.epoch, seq: 1 });
    await fresh.c.expectNoFrame((f) => f.type === 'gap');
    // and 'live' kept its history through all that: a resume in its first epoch is replayed, not a gap
    const back = await hello(url);
    back.c.send({ type: 'subscribe', channel: 'live', since: 1, epoch: first.epoch as string });
    expect(await back.c.waitFor('subscribed')).toMatchObject({ epoch: first.epoch, seq: 2 });
    expect(await back.c.waitFor('publication')).toMatchObject({ seq: 2, data: 2 });
    await back.c.expectNoFrame((f) => f.type === 'gap');
  });
});

describe('shutdown while a stream is being admitted', () => {
  it('an SSE stream admitted during close() is ended too (the app keeps its own HTTP server)', async () => {
    const { createServer: createHttpServer, get } = await import('node:http');
    const { createServer } = await import('@rxmux/server');
    const http = createHttpServer((_req, res) => res.end('app'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const rt = createServer({ server: http, authorize: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 50)) });
    await rt.ready();
    const port = (http.address() as { port: number }).port;
    const ended = new Promise<string>((resolve, reject) => {
      get(`http://127.0.0.1:${port}/rt/sse?channel=a`, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      }).on('error', reject);
    });
    await sleep(10); // the request is in authorize now
    await rt.close();
    const body = await Promise.race([ended, sleep(1000).then(() => 'still open after 1 s')]);
    expect(body).not.toBe('still open after 1 s');
    expect(rt.metrics().streams).toBe(0);
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
});
