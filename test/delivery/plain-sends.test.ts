/**
 * Plain `send()`s (no ack) written into a socket that then dies are neither
 * lost nor doubled while the session resumes: the server's receipt count
 * tells the client what to re-send. When the session cannot be resumed they
 * are reported on `dropped$` as `'unconfirmed'`, never silently lost
 * (issue 9.3).
 */
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { DroppedMessage } from '@rxmux/core';
import { client, opened, prng, proxyTo, serve, sleep, stop, tally, until } from './harness.js';

describe('plain sends across dying sockets', () => {
  it('messages written into a half-open socket are re-sent after the resume: each handled once, in order', async () => {
    const server = await serve();
    const received: number[] = [];
    server.handle('log', { onMessage: (_ctx, data) => void received.push(data as number) });
    const proxy = await proxyTo(server.port);
    const conn = client(proxy, { heartbeat: { interval: 100, timeout: 150 } });
    const dropped: DroppedMessage[] = [];
    conn.dropped$.subscribe((d) => dropped.push(d));
    const log = conn.channel('log');
    for (let i = 0; i < 10; i++) log.send(i);
    expect(await until(() => received.length === 10, 5_000)).toBe(true);
    proxy.strand(); // from here the socket swallows everything, and nobody is told
    for (let i = 10; i < 30; i++) log.send(i); // written: the socket is open as far as the client knows
    await firstValueFrom(conn.status$.pipe(filter((s) => s === 'reconnecting')));
    await opened(conn);
    expect(await until(() => received.length >= 30, 5_000)).toBe(true);
    await sleep(50);
    expect(received).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(dropped).toEqual([]);
  });

  const SEED = 0x9a7e5;
  it(`2,000 plain sends while links are cut at random points (seed ${SEED.toString(16)}): none lost, none doubled, in order`, async () => {
    const server = await serve();
    const received: number[] = [];
    server.handle('plain', { onMessage: (_ctx, data) => void received.push(data as number) });
    const proxy = await proxyTo(server.port);
    const conn = client(proxy);
    const dropped: DroppedMessage[] = [];
    conn.dropped$.subscribe((d) => dropped.push(d));
    const plain = conn.channel('plain');
    const random = prng(SEED);
    let cuts = 0;
    for (let i = 0; i < 2_000; i++) {
      plain.send(i);
      if (random() < 1 / 80) {
        await Promise.race([opened(conn), sleep(5_000)]);
        await sleep(Math.floor(random() * 4));
        proxy.cut();
        cuts++;
      } else if (i % 20 === 0) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    expect(await until(() => received.length >= 2_000, 20_000)).toBe(true);
    await sleep(100);
    const figures = tally(received, 2_000);
    console.log(`[delivery] plain sends: 2000, cuts ${cuts}, lost ${figures.lost}, duplicated ${figures.duplicated}, out of order ${figures.outOfOrder}, dropped ${dropped.length}`);
    expect(cuts).toBeGreaterThan(10);
    expect(figures).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
    expect(dropped).toEqual([]);
  }, 60_000);

  it('when the session is lost (a restarted server), messages the old socket swallowed are reported as unconfirmed', async () => {
    const first = await serve();
    first.handle('log', { onMessage: () => undefined });
    const proxy = await proxyTo(first.port);
    const conn = client(proxy, { heartbeat: { interval: 100, timeout: 150 } });
    const dropped: DroppedMessage[] = [];
    conn.dropped$.subscribe((d) => dropped.push(d));
    const receipts: number[] = [];
    conn.debug((event) => {
      if (event.type === 'frame' && event.frame === 'receipt' && event.dir === 'in') receipts.push((event.data as { received: number }).received);
    });
    const log = conn.channel('log');
    log.send('arrives');
    await opened(conn);
    // The message arrived and its receipt came back (the tap shows it): it is not among the unconfirmed.
    expect(await until(() => receipts.includes(1), 5_000)).toBe(true);
    proxy.strand();
    for (const word of ['a', 'b', 'c']) log.send(word);
    const stopping = stop(first); // the process goes away with the session (new upgrades get 503 meanwhile)
    await firstValueFrom(conn.status$.pipe(filter((s) => s === 'reconnecting')));
    await stopping;
    const second = await serve();
    const received: unknown[] = [];
    second.handle('log', { onMessage: (_ctx, data) => void received.push(data) });
    proxy.retarget(second.port);
    expect(await until(() => dropped.length === 3, 5_000)).toBe(true);
    expect(dropped.map((d) => [d.channel, d.reason, d.wire])).toEqual([
      ['log', 'unconfirmed', '[0,"log","a"]'],
      ['log', 'unconfirmed', '[0,"log","b"]'],
      ['log', 'unconfirmed', '[0,"log","c"]'],
    ]);
    log.send('after');
    expect(await until(() => received.length === 1, 5_000)).toBe(true);
    expect(received).toEqual(['after']); // not re-sent to the new session
  });
});
