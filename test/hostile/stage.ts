/**
 * The stage of every hostile test (issue 14): a real server on 127.0.0.1
 * with a few legitimate rxmux clients on it, each subscribed to a feed the
 * server publishes before, during and after the attack, and the check that
 * they lost nothing: every feed value once, in order, no gap notice, no
 * reconnect, and a request still answered.
 *
 * Bounds are asserted on the server's own accounting (`server.metrics()`),
 * never on process RSS or on elapsed time.
 */
import { afterEach, expect } from 'vitest';
import { firstValueFrom } from 'rxjs';
import type { Connection, ConnectionStatus, GapNotice } from '@rxmux/core';
import type { RxmuxServer, ServerOptions } from '@rxmux/server';
import { tclient, type TClient } from '../server/tclient.js';
import { client, serve, wsUrl } from '../support/real.js';
import { until } from '../support/wait.js';

/** The channel every legitimate client follows. */
export const FEED = 'feed';

/** One legitimate client: what it received and what happened to it. */
export interface Legit {
  readonly conn: Connection;
  readonly values: number[];
  readonly gaps: GapNotice[];
  readonly statuses: ConnectionStatus[];
}

export interface Stage {
  readonly server: RxmuxServer;
  readonly legit: readonly Legit[];
  /** The port legitimate clients (and attackers) connect to. */
  readonly port: number;
  /** Publishes `n` more feed values. */
  feed(n: number): Promise<void>;
  /** Every legitimate client got every feed value once, in order, with no gap and no reconnect, and is still answered. */
  nothingLost(): Promise<void>;
}

/**
 * Starts a server (`options` over the defaults, plus an `echo` request
 * handler) with `count` legitimate clients following {@link FEED}, and
 * publishes a first few values.
 */
export async function stage(options: ServerOptions = {}, count = 3): Promise<Stage> {
  const server = await serve(options);
  server.handle('echo', { onRequest: (_ctx, data) => data });
  const legit: Legit[] = [];
  for (let i = 0; i < count; i++) {
    const conn = client(wsUrl(server.port));
    const one: Legit = { conn, values: [], gaps: [], statuses: [] };
    conn.status$.subscribe((s) => one.statuses.push(s));
    const feed = conn.channel<number>(FEED);
    feed.subscribe((v) => one.values.push(v));
    feed.gaps$.subscribe((g) => one.gaps.push(g));
    legit.push(one);
  }
  expect(await until(async () => (await server.presence(FEED)).length === count, 10_000)).toBe(true);
  let published = 0;
  const feed = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await server.publish(FEED, ++published);
  };
  await feed(5);
  return {
    server,
    legit,
    port: server.port,
    feed,
    async nothingLost() {
      const all = Array.from({ length: published }, (_, i) => i + 1);
      expect(await until(() => legit.every((l) => l.values.length >= published), 15_000)).toBe(true);
      for (const l of legit) {
        expect(l.values).toEqual(all);
        expect(l.gaps).toEqual([]);
        expect(l.statuses.filter((s) => s === 'reconnecting' || s === 'failed')).toEqual([]);
        expect(l.statuses.at(-1)).toBe('open');
        expect(await firstValueFrom(l.conn.channel('echo').request('still there?', { timeout: 10_000 }))).toBe('still there?');
      }
    },
  };
}

const attackers: TClient[] = [];

afterEach(() => {
  for (const c of attackers.splice(0)) c.ws.terminate();
});

/** A raw protocol client that said hello (terminated after the test): the attacker. */
export async function attacker(port: number): Promise<TClient> {
  const c = await tclient(`ws://127.0.0.1:${port}/rt`);
  attackers.push(c);
  await c.hello();
  return c;
}
