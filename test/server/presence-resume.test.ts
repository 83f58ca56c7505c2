/**
 * Presence across a resume that takes over a socket the server still thinks
 * is alive (a half-open link): the old socket leaves its channels like any
 * socket, the new one joins what the client re-subscribes (issue 9.2).
 */
import { filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { connect as connectClient } from '@rxmux/core';
import type { PresenceEvent } from '@rxmux/server';
import { FaultProxy } from '../support/fault-proxy.js';
import { until } from '../support/wait.js';
import { hello, start } from './helpers.js';

describe('presence after a half-open resume', () => {
  it('a channel left during the outage loses the member; a re-joined one gets leave then join, never two joins', async () => {
    const { url, server } = await start();
    const events: string[] = [];
    server.onPresence((e: PresenceEvent) => events.push(`${e.type}:${e.channel}`));
    const unsubscribed: string[] = [];
    server.handle('*', { onUnsubscribe: (ctx) => void unsubscribed.push(ctx.channel) });

    const a = await hello(url);
    for (const channel of ['kept', 'dropped']) {
      a.c.send({ type: 'subscribe', channel });
      await a.c.waitFor('subscribed');
    }
    // The link is half-open: the client gave up on socket A, the server has not noticed.
    const b = await hello(url, a.welcome.session);
    expect(b.welcome.resumed).toBe(true);
    b.c.send({ type: 'subscribe', channel: 'kept' }); // 'dropped' was left while offline
    await b.c.waitFor('subscribed');

    expect(await server.presence('dropped')).toEqual([]);
    expect((await server.presence('kept')).map((m) => m.session)).toEqual([b.welcome.session]);
    expect(events).toEqual(['join:kept', 'join:dropped', 'leave:kept', 'leave:dropped', 'join:kept']);
    expect(unsubscribed.sort()).toEqual(['dropped', 'kept']);

    // Socket A's close event comes later: it must not undo B's join.
    await a.c.waitForClose();
    expect((await server.presence('kept')).map((m) => m.session)).toEqual([b.welcome.session]);
    b.c.close();
    expect(await until(async () => (await server.presence('kept')).length === 0, 3000)).toBe(true);
  });

  it('through the real client: a channel given up while the link was half-open is not kept in presence, even after close()', async () => {
    const { server } = await start({ heartbeat: { interval: 10_000, timeout: 60_000 } }); // the server never notices by itself
    const proxy = await FaultProxy.start(server.port);
    try {
      const conn = connectClient(`ws://127.0.0.1:${proxy.port}/rt`, {
        WebSocket,
        shared: false,
        heartbeat: { interval: 100, timeout: 150 },
        reconnect: { initialDelay: 20, maxDelay: 100 },
        linger: 0,
      });
      const kept = conn.channel('kept').subscribe();
      const dropped = conn.channel('dropped').subscribe();
      expect(await until(async () => (await server.presence('dropped')).length === 1, 3000)).toBe(true);
      proxy.strand(); // the client's heartbeat gives up; its close never reaches the server
      await firstValueFrom(conn.status$.pipe(filter((s) => s === 'reconnecting')));
      dropped.unsubscribe();
      await firstValueFrom(conn.status$.pipe(filter((s) => s === 'open')));
      expect(await until(async () => (await server.presence('kept')).length === 1, 3000)).toBe(true);
      expect(await server.presence('dropped')).toEqual([]);
      kept.unsubscribe();
      conn.close();
      expect(await until(async () => (await server.presence('kept')).length === 0, 3000)).toBe(true);
      expect(await server.presence('dropped')).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});
