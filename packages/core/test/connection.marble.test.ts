import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ConnectionLostError, ReconnectFailedError } from '@rxmux/core';
import { FakeServer, marbles, runMarbles } from '@rxmux/core/testing';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/operators/backoff.js';
import { toEqual } from './helpers.js';

describe('status transitions (marbles)', () => {
  it('closed → connecting → open → reconnecting → open → closed after the linger', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 }, linger: 100 });
      server.connection$.subscribe((c) => {
        if (server.connections.length === 1) later(() => c.drop(1006), 50);
      });
      const sub = conn.channel('a').subscribe();
      later(() => sub.unsubscribe(), 300);
      // socket 1: welcomed at 10, dropped at 50; retry after 100 ms → socket 2 at 150, welcomed at 160.
      // Unsubscribed at 300; the channel lingers 100 ms, then the socket closes at 400.
      expectStatus(conn, marbles([[0, 'C'], [10, 'o'], [50, 'r'], [160, 'o'], [400, 'c']]), '^ 500ms !');
    });
  });

  it('a clean close by the app never reconnects', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const conn = new FakeServer({ autoWelcome: { after: 10 } }).connect();
      conn.channel('a').subscribe();
      later(() => conn.close(), 20);
      expectStatus(conn, marbles([[0, 'C'], [10, 'o'], [20, 'c'], [20, '|']]));
    });
  });
});

describe('reconnect backoff (marbles)', () => {
  it('follows initialDelay × multiplier^n, capped at maxDelay', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer();
      const conn = server.connect({ reconnect: { initialDelay: 100, multiplier: 2, maxDelay: 400, maxAttempts: 6 } });
      server.connection$.subscribe((c) => later(() => c.drop(1006), 1));
      conn.channel('a').subscribe({ error: () => undefined });
      // Each socket fails 1 ms after it is created; the retries wait 100, 200, 400, 400, 400, 400 ms,
      // then attempt 7 exceeds maxAttempts (6): failed.
      const retries = conn.transitions$.pipe(map((t) => `${t.to}:${t.retryIn ?? '-'}@${t.attempt ?? '-'}`));
      expectObservable(retries).toBe(
        marbles([[1, 'a'], [102, 'b'], [303, 'c'], [704, 'd'], [1105, 'e'], [1506, 'g'], [1907, 'f']]),
        {
          a: 'reconnecting:100@1', b: 'reconnecting:200@2', c: 'reconnecting:400@3', d: 'reconnecting:400@4',
          e: 'reconnecting:400@5', g: 'reconnecting:400@6', f: 'failed:-@7',
        },
      );
    });
  });

  it('jitter lowers each delay by up to `jitter` of it, never below', () => {
    const policy = { ...DEFAULT_BACKOFF, jitter: 0.5 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 1))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 0))).toEqual([250, 500, 1000, 2000]);
    expect(backoffDelay(30, policy, () => 1)).toBe(30_000);
  });

  it('after maxAttempts the status is failed and active channels error with ReconnectFailedError', () => {
    runMarbles(toEqual, ({ expectObservable, expectStatus, later }) => {
      const server = new FakeServer();
      const conn = server.connect({ reconnect: { initialDelay: 10, maxAttempts: 2 } });
      server.connection$.subscribe((c) => later(() => c.drop(1006), 1));
      expectObservable(conn.channel('a')).toBe(
        marbles([[33, '#']]),
        undefined,
        new ReconnectFailedError(2, new ConnectionLostError(1006, '')),
      );
      expectStatus(conn, marbles([[0, 'C'], [1, 'r'], [33, 'f']]));
    });
  });

  it('a fatal close code (4401) fails at once, without retrying', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer();
      const conn = server.connect();
      server.connection$.subscribe((c) => later(() => c.drop(4401, 'unauthorized'), 5));
      conn.channel('a').subscribe({ error: () => undefined });
      expectStatus(conn, marbles([[0, 'C'], [5, 'f']]));
    });
  });

  it('the attempt counter resets only after a link stayed up minUptime; short-lived links keep backing off', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 1 } });
      const conn = server.connect({ reconnect: { initialDelay: 100, minUptime: 50 } });
      server.connection$.subscribe((c) => {
        const n = server.connections.length;
        if (n <= 2) later(() => c.drop(1009, 'poison'), 10); // welcomed, then dropped at once
        else if (n === 3) later(() => c.drop(1006), 100); // stayed up longer than minUptime
      });
      const sub = conn.channel('a').subscribe();
      later(() => sub.unsubscribe(), 600);
      const delays = conn.transitions$.pipe(map((t) => `${t.to}${t.retryIn ?? ''}`));
      // 1: welcome at 1, dropped at 10 → 100 ms; 2: at 110, dropped at 120 → 200 ms (no reset: up 9 ms);
      // 3: at 320, up until 420 (> 50 ms: the counter starts over) → 100 ms; 4: at 520, stays.
      expectObservable(delays, '^ 590ms !').toBe(
        marbles([[1, 'o'], [10, 'a'], [111, 'o'], [120, 'b'], [321, 'o'], [420, 'a'], [521, 'o']]),
        { o: 'open', a: 'reconnecting100', b: 'reconnecting200' },
      );
    });
  });
});
