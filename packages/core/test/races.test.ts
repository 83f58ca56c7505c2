import { retry } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BufferFullError, type ConnectionStatus } from '@rxmux/core';
import { FakeServer, runMarbles } from '@rxmux/core/testing';
import { toEqual } from './helpers.js';

describe('races found in review (each failed before its fix)', () => {
  it('a channel joined from a status$ "open" handler is subscribed once', async () => {
    const server = new FakeServer();
    const conn = server.connect();
    conn.channel('a').subscribe();
    let done = false;
    conn.status$.subscribe((s) => {
      if (s === 'open' && !done) {
        done = true;
        conn.channel('b').subscribe();
      }
    });
    const c = server.last;
    c.welcome();
    await c.nextSubscribe('b'); // joined while open: written after this turn (the kit's visibility rule)
    expect(c.summary()).toEqual(['hello', 'sub:a', 'sub:b']);
  });

  it('a Channel kept from before close() completes instead of opening a socket', () => {
    const server = new FakeServer();
    const conn = server.connect();
    const ch = conn.channel('a');
    conn.close();
    ch.subscribe();
    expect(server.connections).toHaveLength(0);
  });

  it('an acked send refused by a full buffer does not hold the socket open', () => {
    const server = new FakeServer();
    const conn = server.connect({ linger: 0, buffer: { maxMessages: 1, overflow: 'error' } });
    const statuses: ConnectionStatus[] = [];
    conn.status$.subscribe((s) => statuses.push(s));
    const ch = conn.channel('a');
    ch.send('m1'); // buffered, hold opens socket
    expect(() => ch.send('m2', { ack: true })).toThrow(BufferFullError);
    server.last.welcome();
    // m1 flushed; nothing is pending: the hold should be released and the socket closed
    expect(statuses.at(-1)).toBe('closed');
  });

  it('a synchronous resubscribe after failed (retry()) ends in open, not stuck closed', () => {
    const server = new FakeServer();
    const conn = server.connect({ reconnect: { maxAttempts: 0 } });
    const statuses: ConnectionStatus[] = [];
    conn.status$.subscribe((s) => statuses.push(s));
    conn.channel('a').pipe(retry({ count: 1 })).subscribe({ error: () => undefined });
    server.last.drop(1006); // attempt 1 > maxAttempts 0: failed; retry() resubscribes synchronously
    expect(server.connections).toHaveLength(2);
    server.connections[1]!.welcome();
    expect(server.connections[1]!.summary()).toEqual(['hello', 'sub:a']);
    expect(statuses).toEqual(['closed', 'connecting', 'failed', 'connecting', 'open']);
  });

  it('a request that timed out while offline is not sent after the reconnect', () => {
    const server = new FakeServer({ autoWelcome: { after: 100 } });
    const conn = server.connect({ requestTimeout: 50 });
    let sent: string[] = [];
    let err: unknown;
    runMarbles(toEqual, ({ later }) => {
      conn.channel('a').request({ q: 1 }).subscribe({ error: (e: unknown) => void (err = e) });
      later(() => (sent = server.last.summary()), 150);
    });
    expect(String(err)).toContain('Timeout');
    expect(sent).toEqual(['hello']);
  });

});


describe('races found in review, part 2', () => {
  it('a send from an ack error handler during failed opens a new socket', () => {
    const server = new FakeServer();
    const conn = server.connect({ reconnect: { maxAttempts: 0 } });
    const ch = conn.channel('a');
    const dropped: string[] = [];
    conn.dropped$.subscribe((d) => dropped.push(`${d.reason} ${String(d.wire)}`));
    ch.send('m1', { ack: true }).subscribe({ error: () => ch.send('m2') });
    server.last.drop(1006); // failed → failAll → m2 buffered, hold about to die
    // a send after 'failed' normally reopens (T7b); here nothing does:
    expect(server.connections).toHaveLength(2);
    expect(dropped).toEqual(['failed [0,"a","m1",1]']); // m1 went with the failure; m2 waits for the new socket
  });

  it('transitions$ keeps order when a status$ handler causes the next transition', () => {
    const server = new FakeServer();
    const conn = server.connect({ linger: 0 });
    const sub = conn.channel('a').subscribe();
    const statuses: ConnectionStatus[] = [];
    const trans: string[] = [];
    conn.transitions$.subscribe((t) => trans.push(`${t.from}>${t.to}`));
    conn.status$.subscribe((s) => {
      statuses.push(s);
      if (s === 'open') sub.unsubscribe();
    });
    server.last.welcome();
    expect(trans).toEqual(['connecting>open', 'open>closed']);
    expect(statuses).toEqual(['connecting', 'open', 'closed']);
  });
});

describe('connect timeout covers the handshake', () => {
  it('an accepted socket that never welcomes is retried after connectTimeout', () => {
    const server = new FakeServer();
    const conn = server.connect({ connectTimeout: 100 });
    const statuses: ConnectionStatus[] = [];
    runMarbles(toEqual, ({ later }) => {
      conn.status$.subscribe((s) => statuses.push(s));
      server.connection$.subscribe((c) => later(() => c.accept(), 10));
      conn.channel('a').subscribe();
      later(() => conn.close(), 100_000);
    });
    expect(server.connections.length).toBeGreaterThan(1);
    expect(statuses.slice(0, 3)).toEqual(['closed', 'connecting', 'reconnecting']);
    expect(statuses.at(-1)).toBe('closed');
  });
});

describe('two reconnects end to end on fake sockets', () => {
  it('acked message, request and buffered messages survive two reconnects; resume positions hold', () => {
    const server = new FakeServer({ autoWelcome: { after: 5 } });
    const conn = server.connect({ reconnect: { initialDelay: 100 } });
    const got: unknown[] = [];
    let acked = false;
    let resp: unknown;
    runMarbles(toEqual, ({ later }) => {
      const c = conn.channel('a');
      c.subscribe((v) => got.push(v));
      later(() => {
        server.last.subscribed('a', { epoch: 'E', seq: 3 });
        server.last.publish('a', 4, { seq: 4 });
        c.send('m1', { ack: true }).subscribe(() => (acked = true));
        c.request('q').subscribe((r) => (resp = r));
      }, 10);
      later(() => server.last.drop(), 20);
      later(() => c.send('m2'), 30);
      // socket 2 at 120, welcomed 125
      later(() => server.last.drop(), 130);
      later(() => c.send('m3'), 140);
      // socket 2 lived 5 ms (< minUptime): retry attempt 2 waits 200 ms → socket 3 at 330, welcomed at 335
      later(() => {
        const third = server.last;
        expect(server.connections[1]!.summary()).toEqual(['hello', 'sub:a', 'msg:a:"m1"', 'req:a:2', 'msg:a:"m2"']);
        expect(third.summary()).toEqual(['hello', 'sub:a', 'msg:a:"m1"', 'req:a:2', 'msg:a:"m3"']);
        expect(third.frames[1]).toMatchObject({ since: 4, epoch: 'E' });
        third.subscribed('a', { epoch: 'E', seq: 6 });
        for (const seq of [4, 5, 6]) third.publish('a', seq, { seq });
        third.ack(third.takeFrame('message', { channel: 'a' }));
        third.answer(third.takeFrame('request', { channel: 'a' }), 'r');
      }, 340);
      later(() => conn.close(), 400);
    });
    expect(got).toEqual([4, 5, 6]);
    expect(acked).toBe(true);
    expect(resp).toBe('r');
  });
});
