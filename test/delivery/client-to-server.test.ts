/**
 * Client → server under injected faults: acked messages re-sent after every
 * cut reach the handler exactly once, in order per channel; requests time out
 * with RequestTimeoutError and their cancel reaches the server.
 */
import { filter, firstValueFrom, lastValueFrom, merge, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RequestTimeoutError, type Ack } from '@rxmux/core';
import { gated } from '../support/gated.js';
import { client, opened, prng, proxyTo, serve, sleep, sum, tally, until } from './harness.js';

const MESSAGES = 10_000;
const CHANNELS = 10;
const SEED = 0x5eed01;

describe('client → server, effectively once', () => {
  it(`${MESSAGES} acked messages on ${CHANNELS} channels, link cut at random points (seed ${SEED.toString(16)}): each handled exactly once, in order per channel`, async () => {
    const server = await serve();
    const received: number[][] = Array.from({ length: CHANNELS }, () => []);
    server.handle('c2s-*', { onMessage: (ctx, data) => void received[Number(ctx.channel.slice(4))]?.push(data as number) });
    const proxy = await proxyTo(server.port);
    const conn = client(proxy);
    const channels = Array.from({ length: CHANNELS }, (_, i) => conn.channel(`c2s-${i}`));
    const random = prng(SEED);
    const acks: Observable<Ack>[] = [];
    const perRound = 50;
    const rounds = MESSAGES / perRound;
    let cutsAsked = 0;
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < perRound; k++) {
        const i = round * perRound + k;
        const ch = i % CHANNELS;
        acks.push(channels[ch]!.send(Math.floor(i / CHANNELS), { ack: true }));
      }
      // About one round in ten: once the link is up again, cut it 0-4 ms later, while rounds (and re-sends) are in flight.
      if (random() < 1 / 10) {
        await Promise.race([opened(conn), sleep(5_000)]);
        await sleep(Math.floor(random() * 5));
        cutsAsked++;
        proxy.cut();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    let acked = 0;
    const all = lastValueFrom(merge(...acks), { defaultValue: undefined });
    const sub = merge(...acks).subscribe(() => acked++);
    await Promise.race([all, sleep(30_000)]);
    sub.unsubscribe();
    await until(() => received.every((r) => r.length >= MESSAGES / CHANNELS), 2_000);
    const figures = sum(received.map((r) => tally(r, MESSAGES / CHANNELS)));
    // Envelopes the server read beyond one per message: re-sent messages (dropped as duplicates), hellos, subscribes, pings.
    const extra = server.metrics().framesIn - MESSAGES;
    console.log(`[delivery] c2s: messages ${MESSAGES}, channels ${CHANNELS}, seed ${SEED.toString(16)}, cuts ${proxy.cuts} (asked ${cutsAsked}), extra envelopes read ${extra}, acked ${acked}, lost ${figures.lost}, duplicated ${figures.duplicated}, out of order ${figures.outOfOrder}`);
    expect(proxy.cuts).toBeGreaterThan(5);
    expect(acked).toBe(MESSAGES);
    expect(figures).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
    for (const r of received) expect(r).toEqual(Array.from({ length: MESSAGES / CHANNELS }, (_, n) => n));
  }, 60_000);
});

describe('requests under faults', () => {
  it('a request with no answer fails with RequestTimeoutError and its cancel aborts the handler (ctx.signal)', async () => {
    const server = await serve();
    const aborted: number[] = [];
    const started: number[] = [];
    server.handle('slow', {
      onRequest: (ctx) =>
        new Promise<never>(() => {
          started.push(ctx.id);
          ctx.signal.addEventListener('abort', () => aborted.push(ctx.id));
        }),
    });
    const proxy = await proxyTo(server.port);
    const conn = client(proxy);
    const slow = conn.channel('slow');
    // Open first: the 150 ms must time the request, not a connect slowed down by a loaded machine.
    const held = slow.subscribe();
    await opened(conn);
    await expect(firstValueFrom(slow.request({ n: 1 }, { timeout: 150 }))).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(await until(() => aborted.length === 1, 5_000)).toBe(true);

    // Unsubscribing early cancels too.
    const sub = slow.request({ n: 2 }, { timeout: 10_000 }).subscribe({ error: () => undefined });
    expect(await until(() => started.length === 2, 5_000)).toBe(true); // the second request reached its handler
    sub.unsubscribe();
    expect(await until(() => aborted.length === 2, 5_000)).toBe(true);
    held.unsubscribe();
  });

  it('a request in flight across a cut is answered once, by one handler run (seed-free: one cut)', async () => {
    const server = await serve();
    const calc = gated<number>();
    server.handle('calc', calc.handler);
    const proxy = await proxyTo(server.port);
    const conn = client(proxy);
    const answer = firstValueFrom(conn.channel('calc').request<number>(null, { timeout: 10_000 }));
    expect(await until(() => calc.runs === 1, 5_000)).toBe(true);
    proxy.cut();
    await firstValueFrom(conn.status$.pipe(filter((status) => status === 'reconnecting')));
    await opened(conn); // the client re-sent the request on its new socket
    calc.release(42);
    expect(await answer).toBe(42);
    expect(calc.runs).toBe(1);
  });
});
