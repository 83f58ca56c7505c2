/**
 * The core client in Node (with `ws` as its WebSocket) against the real
 * @rxmux/server on 127.0.0.1: the thin slice end to end.
 */
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RemoteError, type Connection, type ConnectOptions, type EventSourceConstructor } from '@rxmux/core';
import { events } from '@rxmux/core/events';
import { EventSource } from 'eventsource';
import type { RxmuxServer, ServerOptions } from '@rxmux/server';
import { client as realClient, opened, serve as serveReal, stop, wsUrl } from '../support/real.js';

async function serve(options: ServerOptions = {}, port = 0): Promise<{ server: RxmuxServer; url: string }> {
  const server = await serveReal({ port, ...options });
  return { server, url: wsUrl(server.port) };
}

const client = (url: string, options: ConnectOptions = {}): Connection => realClient(url, { reconnect: { initialDelay: 50, maxDelay: 200 }, ...options });

describe('client ↔ server on a real socket', () => {
  it('two clients exchange on a channel through a relay handler, JSON and binary', async () => {
    const { server, url } = await serve();
    server.handle('room-*', { onMessage: (ctx, data) => ctx.publish(data) });
    const alice = client(url);
    const bob = client(url);
    const room = bob.channel<{ hi: string }>('room-1');
    const bobSeesJson = firstValueFrom(room);
    const bobSeesBytes = firstValueFrom(room.binary$); // the same join: binary frames on their own typed stream
    await opened(bob);
    await expect.poll(async () => (await server.presence('room-1')).length).toBe(1);
    alice.channel('room-1').send({ hi: 'bob' });
    alice.channel('room-1').sendBinary(new Uint8Array([1, 2, 3, 250]));
    expect(await bobSeesJson).toEqual({ hi: 'bob' });
    const bytes = await bobSeesBytes;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Array.from(bytes)).toEqual([1, 2, 3, 250]);
    expect(server.metrics().connections).toBe(2);
  });

  it('request/reply and request-error travel with their codes', async () => {
    const { server, url } = await serve();
    server.handle('math', {
      onRequest: (ctx, data) => {
        if (typeof data !== 'number') {
          ctx.fail('E_NAN', 'not a number');
          return;
        }
        return data * 2;
      },
    });
    const conn = client(url);
    await expect(firstValueFrom(conn.channel('math').request(21))).resolves.toBe(42);
    await expect(firstValueFrom(conn.channel('math').request('x'))).rejects.toEqual(new RemoteError('E_NAN', 'not a number'));
  });

  it('survives three server restarts on the same port: reconnects, re-joins, delivers, and buffers while down', async () => {
    const first = await serve();
    let server = first.server;
    const port = Number(new URL(first.url).port);
    const received: unknown[] = [];
    server.handle('inbox', { onMessage: (_ctx, data) => void received.push(data) });
    const conn = client(first.url);
    const seen: unknown[] = [];
    const statuses: string[] = [];
    conn.status$.subscribe((s) => statuses.push(s));
    const sub = conn.channel('ticker').subscribe((v) => seen.push(v));
    for (const round of [1, 2, 3, 4]) {
      await opened(conn);
      await expect.poll(async () => (await server.presence('ticker')).length).toBe(1);
      await server.publish('ticker', round);
      await expect.poll(() => seen).toContain(round);
      if (round > 1) await expect.poll(() => received).toContain(`sent while down ${round - 1}`);
      if (round === 4) break;
      await stop(server); // clients see 1001 and start reconnecting
      await expect.poll(() => statuses.at(-1)).toBe('reconnecting');
      conn.channel('inbox').send(`sent while down ${round}`); // buffered, flushed on reopen
      ({ server } = await serve({}, port));
      server.handle('inbox', { onMessage: (_ctx, data) => void received.push(data) });
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(received).toEqual(['sent while down 1', 'sent while down 2', 'sent while down 3']);
    expect(statuses.filter((s) => s === 'open')).toHaveLength(4);
    sub.unsubscribe();
  });
});

describe('events(conn, id): the single EventSource, and long-poll', () => {
  it.each([
    ['EventSource', { EventSource: EventSource as unknown as EventSourceConstructor }],
    ['long-poll', { forceLongPoll: true }],
  ] as const)('delivers several channels over one %s', async (_name, eventStream) => {
    const { server, url } = await serve();
    const conn = client(url, { eventStream });
    const score = firstValueFrom(events(conn, 'match-score').pipe(take(2), toArray()));
    const highlights = firstValueFrom(events(conn, 'match-highlights').pipe(take(1), toArray()));
    await expect.poll(() => server.metrics().streams + server.metrics().polls).toBeGreaterThan(0);
    if (!('forceLongPoll' in eventStream)) {
      await expect.poll(async () => (await server.presence('match-highlights')).length).toBe(1);
      await expect.poll(async () => (await server.presence('match-score')).length).toBe(1);
    }
    await server.publish('match-score', { home: 1 });
    await server.publish('match-highlights', 'goal!');
    await server.publish('match-score', { home: 2 });
    await expect(score).resolves.toEqual([{ home: 1 }, { home: 2 }]);
    await expect(highlights).resolves.toEqual(['goal!']);
    expect(server.metrics().streams).toBeLessThanOrEqual(1);
  });
});
