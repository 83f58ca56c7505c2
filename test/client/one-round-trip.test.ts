/**
 * Time to live in one round trip (PROTOCOL.md 6.1), counted on a real socket
 * between the real client and the real server: after the WebSocket opens,
 * the client writes one message (the hello and every channel's subscribe)
 * and the next message it reads holds the welcome, every `subscribed` and
 * the first data. The same after a reconnect, with the replay.
 */
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { WebSocketConstructor } from '@rxmux/core';
import { decode, type Frame } from '@rxmux/core/protocol';
import { client, serve, wsUrl } from '../support/real.js';
import { FaultProxy } from '../support/fault-proxy.js';

type WireEvent = { readonly dir: 'open' } | { readonly dir: 'out' | 'in'; readonly frames: readonly string[] };

/** `ws`'s WebSocket, recording what each socket writes and reads, in order. */
function recording(log: WireEvent[][]): WebSocketConstructor {
  const describe = (wire: unknown): string[] =>
    decode(typeof wire === 'string' ? wire : new Uint8Array(wire as ArrayBuffer)).frames.map((f: Frame) => ('channel' in f ? `${f.type}:${f.channel}` : f.type));
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      const events: WireEvent[] = [];
      log.push(events);
      this.addEventListener('open', () => events.push({ dir: 'open' }));
      this.addEventListener('message', (event) => events.push({ dir: 'in', frames: describe(event.data) }));
    }

    override send(data: string | Buffer): void {
      super.send(data);
      (log.at(-1) as WireEvent[]).push({ dir: 'out', frames: describe(typeof data === 'string' ? data : new Uint8Array(data)) });
    }
  };
}

/** Round trips: how many times the client wrote and then waited for the server, until `upTo` events. */
const roundTrips = (events: readonly WireEvent[]): number => events.filter((e, i) => e.dir === 'out' && events[i + 1]?.dir === 'in').length;

describe('live in one round trip (real socket)', () => {
  it('one message out (hello + subscribes), one message back (welcome + subscribed + first data)', async () => {
    const server = await serve();
    // A snapshot on subscribe: the first data of a fresh join, written in the same turn as its `subscribed`.
    server.handle('snap-*', { onSubscribe: (ctx) => ctx.send({ snapshot: ctx.channel }) });
    const log: WireEvent[][] = [];
    const conn = client(wsUrl(server.port), { WebSocket: recording(log), heartbeat: false });
    const firsts = Promise.all(['snap-1', 'snap-2', 'snap-3'].map((id) => firstValueFrom(conn.channel(id))));
    expect(await firsts).toEqual([{ snapshot: 'snap-1' }, { snapshot: 'snap-2' }, { snapshot: 'snap-3' }]);
    const [events = []] = log;
    expect(events.slice(0, 3)).toEqual([
      { dir: 'open' },
      { dir: 'out', frames: ['hello', 'subscribe:snap-1', 'subscribe:snap-2', 'subscribe:snap-3'] },
      {
        dir: 'in',
        frames: ['welcome', 'subscribed:snap-1', 'publication:snap-1', 'subscribed:snap-2', 'publication:snap-2', 'subscribed:snap-3', 'publication:snap-3'],
      },
    ]);
    expect(roundTrips(events.slice(0, 3))).toBe(1);
  });

  it('after a reconnect: the hello batch carries the positions, the answer brings the replay, still one round trip', async () => {
    const server = await serve({ limits: { ratePerSecond: 1e6, rateBurst: 1e6 } });
    const proxy = await FaultProxy.start(server.port);
    try {
      const log: WireEvent[][] = [];
      const conn = client(wsUrl(proxy.port), { WebSocket: recording(log), heartbeat: false, reconnect: { initialDelay: 20, maxDelay: 50 } });
      const score = conn.channel<number>('score');
      const values: number[] = [];
      score.subscribe((v) => values.push(v));
      const seen = firstValueFrom(score.pipe(take(4), toArray()));
      await firstValueFrom(score.state$.pipe(filter((s) => s === 'joined')));
      await server.publish('score', 1);
      await server.publish('score', 2);
      await expect.poll(() => values).toEqual([1, 2]);
      proxy.cut();
      await firstValueFrom(score.state$.pipe(filter((s) => s === 'joining')));
      await server.publish('score', 3); // published while the client is away
      await server.publish('score', 4);
      expect(await seen).toEqual([1, 2, 3, 4]);
      expect(log).toHaveLength(2);
      const again = log.at(-1) ?? [];
      expect(again.slice(0, 3)).toEqual([
        { dir: 'open' },
        { dir: 'out', frames: ['hello', 'subscribe:score'] },
        { dir: 'in', frames: ['welcome', 'subscribed:score', 'publication:score', 'publication:score'] },
      ]);
    } finally {
      await proxy.close();
    }
  });
});
