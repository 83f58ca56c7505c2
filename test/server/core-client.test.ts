/** The real core client (`connect` from @rxmux/core, with `ws` as its WebSocket) against the real server. */
import { filter, firstValueFrom, take } from 'rxjs';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Connection, type WebSocketConstructor } from '@rxmux/core';
import { createServer } from '@rxmux/server';
import { sleep, start } from './helpers.js';

const connections: Connection[] = [];
afterEach(() => {
  for (const c of connections.splice(0)) c.close();
});

function client(url: string): Connection {
  const conn = connect(url, { WebSocket: WebSocket as unknown as WebSocketConstructor, shared: false, linger: 0, reconnect: { initialDelay: 20, maxDelay: 100 } });
  connections.push(conn);
  return conn;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeout = 3000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('core client against the server', () => {
  it('exchanges messages between two clients, with acks and binary', async () => {
    const { server, url } = await start();
    server.handle('room', { onMessage: (ctx, data) => ctx.publish(data) });
    const a = client(url).channel('room');
    const b = client(url).channel('room');
    const jsonSeenByB = firstValueFrom(b);
    const bytesSeenByB = firstValueFrom(b.binary$);
    const subA = a.subscribe();
    await until(async () => (await server.presence('room')).length === 2, 'both to join');
    await firstValueFrom(a.send({ from: 'a' }, { ack: true }));
    a.sendBinary(new Uint8Array([1, 2, 3]));
    expect(await jsonSeenByB).toEqual({ from: 'a' });
    expect(Array.from(await bytesSeenByB)).toEqual([1, 2, 3]);
    subA.unsubscribe();
  });

  it('routes pattern handlers and answers requests and request-errors', async () => {
    const { server, url } = await start();
    server.handle('player-*', {
      onRequest: (ctx, data) => {
        if ((data as { op?: string }).op === 'boom') throw Object.assign(new Error('nope'), { code: 'APP_ERR_BOOM' });
        return { channel: ctx.channel, echo: data };
      },
    });
    const conn = client(url);
    expect(await firstValueFrom(conn.channel('player-7').request({ op: 'stats' }, { timeout: 2000 }))).toEqual({ channel: 'player-7', echo: { op: 'stats' } });
    await expect(firstValueFrom(conn.channel('player-8').request({ op: 'boom' }, { timeout: 2000 }))).rejects.toMatchObject({ code: 'APP_ERR_BOOM' });
  });

  it('delivers app publishes and reports presence', async () => {
    const { server, url } = await start();
    const news = client(url).channel<number>('news');
    const got = firstValueFrom(news.pipe(filter((n) => n >= 2), take(1)));
    await until(async () => (await server.presence('news')).length === 1, 'the subscription');
    for (let i = 1; i <= 3; i++) await server.publish('news', i);
    expect(await got).toBe(2);
  });

  it('reconnects after a graceful shutdown (1001) to a new server on the same port', async () => {
    const first = await start();
    const port = first.server.port;
    const conn = client(first.url);
    const values: unknown[] = [];
    const sub = conn.channel('news').subscribe((v) => values.push(v));
    await until(async () => (await first.server.presence('news')).length === 1, 'join');
    const statuses: string[] = [];
    conn.status$.subscribe((s) => statuses.push(s));
    await first.server.close();
    await until(() => statuses.includes('reconnecting'), 'reconnecting');
    const second = createServer({ host: '127.0.0.1', port });
    try {
      await second.ready();
      await until(async () => (await second.presence('news')).length === 1, 're-join on the new server');
      await second.publish('news', 'after restart');
      await until(() => values.includes('after restart'), 'the publication');
      sub.unsubscribe();
    } finally {
      await second.close();
    }
  });
});
