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
import { WebSocket, type ClientOptions } from 'ws';
import type { Connection, ConnectionStatus, GapNotice, WebSocketConstructor } from '@rxmux/core';
import { peerAddress, type RxmuxServer, type ServerOptions } from '@rxmux/server';
import { tclient, type TClient, type TClientOptions } from '../server/tclient.js';
import { client, serve, wsUrl } from '../support/real.js';
import { until } from '../support/wait.js';

/** The channel every legitimate client follows. */
export const FEED = 'feed';

/**
 * Every client of a stage runs on 127.0.0.1: a request header stands for
 * the address it would come from (the server's `clientAddress` reads it),
 * so an attack from one address meets the legitimate clients' addresses.
 */
export const ADDRESS_HEADER = 'x-test-address';

/** The stage's `clientAddress`: the test header, or the peer's address. */
export const testAddress: NonNullable<ServerOptions['clientAddress']> = (request) => {
  const named = request.headers[ADDRESS_HEADER];
  return typeof named === 'string' ? named : peerAddress(request);
};

/** Options for a client (raw or `ws`) coming from `address`. */
export const from = (address: string): ClientOptions => ({ headers: { [ADDRESS_HEADER]: address } });

/** A `ws` WebSocket constructor for the rxmux client whose sockets come from `address`. */
function socketFrom(address: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, from(address));
    }
  };
}

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
  const server = await serve({ clientAddress: testAddress, ...options });
  server.handle('echo', { onRequest: (_ctx, data) => data });
  const legit: Legit[] = [];
  for (let i = 0; i < count; i++) {
    const conn = client(wsUrl(server.port), { WebSocket: socketFrom(`legit-${i}`) });
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

/** A raw protocol client (terminated after the test), from the address `evil` unless told otherwise: the attacker. */
export async function raw(port: number, options: TClientOptions = {}): Promise<TClient> {
  const c = await tclient(`ws://127.0.0.1:${port}/rt`, { ...from('evil'), ...options });
  attackers.push(c);
  return c;
}

/** {@link raw}, after its hello was welcomed. */
export async function attacker(port: number, options: TClientOptions = {}): Promise<TClient> {
  const c = await raw(port, options);
  await c.hello();
  return c;
}
