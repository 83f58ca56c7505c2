import { describe, expect, it } from 'vitest';
import { AckTimeoutError, ConnectionClosedError, RemoteError, type GapNotice } from '@rxmux/core';
import type { Frame } from '@rxmux/core/protocol';
import { fakeConnection, later, marbles, sentSummary, testScheduler } from './helpers.js';

const pub = (channel: string, data: number, seq: number): Frame => ({ type: 'publication', channel, data, seq });

describe('acknowledged sends (marbles)', () => {
  it('emits the ack and completes; re-sends unacked messages after a reconnect, in order, before newer ones', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection({ reconnect: { initialDelay: 100 } });
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      const c = conn.channel('score');
      expectObservable(c.send({ n: 1 }, { ack: true })).toBe(marbles([[10, 'a'], [10, '|']]), { a: { id: 1 } });
      expectObservable(c.send({ n: 2 }, { ack: true })).toBe(marbles([[130, 'a'], [130, '|']]), { a: { id: 2 } });
      expectObservable(c.send({ n: 3 }, { ack: true })).toBe(marbles([[130, 'a'], [130, '|']]), { a: { id: 3 } });
      later(() => fake.last.receive({ type: 'ack', id: 1 }), 10);
      later(() => fake.last.drop(), 20); // 2 and 3 are written but unacked
      later(() => c.send({ n: 4 }), 50); // buffered while reconnecting
      later(() => {
        expect(sentSummary(fake.sockets[1]!)).toEqual(['hello', 'msg:score:{"n":2}', 'msg:score:{"n":3}', 'msg:score:{"n":4}']);
        expect(fake.sockets[1]!.sentFrames.slice(1, 3).map((f) => (f as { id?: number }).id)).toEqual([2, 3]);
        fake.last.receive({ type: 'ack', id: 2 });
        fake.last.receive({ type: 'ack', id: 3 });
        fake.last.receive({ type: 'ack', id: 3 }); // a duplicate ack is ignored
      }, 130);
    });
  });

  it('an error frame naming the message id errors that ack only; the channel goes on', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection();
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      const c = conn.channel<number, number | string>('score');
      expectObservable(c, '^ 50ms !').toBe(marbles([[20, 'x']]), { x: 9 });
      expectObservable(c.send('bad', { ack: true })).toBe(marbles([[10, '#']]), undefined, new RemoteError('E_BAD', 'bad score', 'score'));
      later(() => fake.last.receive({ type: 'error', code: 'E_BAD', message: 'bad score', channel: 'score', id: 1 }), 10);
      later(() => fake.last.receive({ type: 'publication', channel: 'score', data: 9 }), 20);
    });
  });

  it('keeps the connection open until the ack, then closes after the linger', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection({ linger: 50 });
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      conn.channel('score').send(1, { ack: true }).subscribe();
      later(() => fake.last.receive({ type: 'ack', id: 1 }), 200);
      expectObservable(conn.status$).toBe(marbles([[0, 'C'], [5, 'o'], [250, 'c']]), { C: 'connecting', o: 'open', c: 'closed' });
    });
  });

  it('close() errors pending acks with ConnectionClosedError and reports buffered messages', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn } = fakeConnection();
      const dropped: unknown[] = [];
      conn.dropped$.subscribe((d) => dropped.push([d.reason, d.id]));
      expectObservable(conn.channel('c').send(1, { ack: true })).toBe(marbles([[10, '#']]), undefined, new ConnectionClosedError());
      later(() => {
        conn.close();
        expect(dropped).toEqual([['closed', 1]]);
      }, 10);
    });
  });
});

describe('ordered, resumable delivery (marbles)', () => {
  it('resumes from the last seen sequence number and drops replayed duplicates', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection({ reconnect: { initialDelay: 100 } });
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      const c = conn.channel<number>('p');
      expectObservable(c, '^ 300ms !').toBe(marbles([[10, 'a'], [11, 'b'], [12, 'c'], [130, 'd'], [131, 'e']]), { a: 1, b: 2, c: 3, d: 4, e: 5 });
      later(() => fake.last.receive({ type: 'subscribed', channel: 'p', epoch: 'e1', seq: 0 }), 6);
      later(() => fake.last.receive(pub('p', 1, 1)), 10);
      later(() => fake.last.receive(pub('p', 2, 2)), 11);
      later(() => fake.last.receive(pub('p', 3, 3)), 12);
      later(() => fake.last.drop(), 20);
      later(() => {
        // the re-join asks for what came after 3 in epoch e1
        expect(fake.last.sentFrames[1]).toEqual({ type: 'subscribe', channel: 'p', since: 3, epoch: 'e1' });
        fake.last.receive({ type: 'subscribed', channel: 'p', epoch: 'e1', seq: 5 });
        fake.last.receive({ type: 'publication', channel: 'p', data: 3, seq: 3 }); // a duplicate: dropped
      }, 126);
      later(() => fake.last.receive(pub('p', 4, 4)), 130);
      later(() => fake.last.receive(pub('p', 5, 5)), 131);
      later(() => fake.last.receive(pub('p', 5, 5)), 132); // again: dropped
    });
  });

  it('a gap frame becomes a GapNotice on gaps$, and delivery continues in order after it', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection({ reconnect: { initialDelay: 100 } });
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      const c = conn.channel<number>('p');
      const notice: GapNotice = { channel: 'p', reason: 'history', since: 1, seq: 50, epoch: 'e1' };
      expectObservable(c, '^ 300ms !').toBe(marbles([[10, 'a'], [130, 'z']]), { a: 1, z: 51 });
      expectObservable(c.gaps$, '^ 300ms !').toBe(marbles([[126, 'g']]), { g: notice });
      later(() => fake.last.receive({ type: 'subscribed', channel: 'p', epoch: 'e1', seq: 0 }), 6);
      later(() => fake.last.receive(pub('p', 1, 1)), 10);
      later(() => fake.last.drop(), 20);
      later(() => {
        fake.last.receive({ type: 'gap', channel: 'p', epoch: 'e1', seq: 50, reason: 'history', since: 1 });
        fake.last.receive({ type: 'subscribed', channel: 'p', epoch: 'e1', seq: 50 });
      }, 126);
      later(() => fake.last.receive(pub('p', 50, 50)), 129); // at or before the gap's seq: dropped
      later(() => fake.last.receive(pub('p', 51, 51)), 130);
    });
  });

  it('an epoch change without a gap frame (a restarted server) still yields a notice', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection({ reconnect: { initialDelay: 100 } });
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      const c = conn.channel<number>('p');
      expectObservable(c.gaps$, '^ 300ms !').toBe(marbles([[126, 'g']]), {
        g: { channel: 'p', reason: 'epoch', since: 7, seq: 0, epoch: 'e2' },
      });
      expectObservable(c, '^ 300ms !').toBe(marbles([[10, 'a'], [130, 'b']]), { a: 7, b: 1 });
      later(() => fake.last.receive({ type: 'subscribed', channel: 'p', epoch: 'e1', seq: 6 }), 6);
      later(() => fake.last.receive(pub('p', 7, 7)), 10);
      later(() => fake.last.drop(), 20);
      later(() => fake.last.receive({ type: 'subscribed', channel: 'p', epoch: 'e2', seq: 0 }), 126);
      later(() => fake.last.receive(pub('p', 1, 1)), 130);
    });
  });

  it('a jump in sequence numbers is reported as a hole and the message still delivered', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection();
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      const c = conn.channel<number>('p');
      expectObservable(c.gaps$, '^ 50ms !').toBe(marbles([[11, 'g']]), { g: { channel: 'p', reason: 'hole', since: 1, seq: 3, epoch: 'e' } });
      expectObservable(c, '^ 50ms !').toBe(marbles([[10, 'a'], [11, 'b']]), { a: 1, b: 4 });
      later(() => fake.last.receive({ type: 'subscribed', channel: 'p', epoch: 'e', seq: 0 }), 6);
      later(() => fake.last.receive(pub('p', 1, 1)), 10);
      later(() => fake.last.receive(pub('p', 4, 4)), 11);
    });
  });

  it('after leaving, a new join starts from live (no resume fields)', () => {
    testScheduler().run(() => {
      const { conn, fake } = fakeConnection({ linger: 10 });
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      const keep = conn.channel('other').subscribe();
      const sub = conn.channel('p').subscribe();
      later(() => fake.last.receive({ type: 'subscribed', channel: 'p', epoch: 'e', seq: 3 }), 6);
      later(() => fake.last.receive(pub('p', 4, 4)), 7);
      later(() => sub.unsubscribe(), 8);
      later(() => conn.channel('p').subscribe(), 30);
      later(() => {
        expect(fake.last.sentFrames.filter((f) => f.type === 'subscribe' && f.channel === 'p')).toEqual([
          { type: 'subscribe', channel: 'p' },
          { type: 'subscribe', channel: 'p' },
        ]);
        keep.unsubscribe();
      }, 40);
    });
  });

  it('a request in flight during a reconnect is sent again and answered once', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection({ reconnect: { initialDelay: 100 } });
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      expectObservable(conn.channel('q').request('x')).toBe(marbles([[130, 'r'], [130, '|']]), { r: 'y' });
      later(() => fake.last.drop(), 20);
      later(() => {
        expect(sentSummary(fake.last)).toEqual(['hello', 'req:q:1']);
        fake.last.receive({ type: 'response', id: 1, data: 'y' });
        fake.last.receive({ type: 'response', id: 1, data: 'y' });
      }, 130);
    });
  });
});

describe('ack timeout (marbles)', () => {
  it('errors with AckTimeoutError and withdraws the message: no re-send, no flush from the buffer', () => {
    testScheduler().run(({ expectObservable }) => {
      const { conn, fake } = fakeConnection({ reconnect: { initialDelay: 100 }, linger: 10 });
      fake.onSocket = (socket) => later(() => fake.welcome(socket), 5);
      const c = conn.channel('score');
      const keep = c.subscribe(); // keeps the connection wanted across the drop
      // A: written at 5, never acked: expires at 50; its late ack at 60 is ignored.
      expectObservable(c.send('A', { ack: true, timeout: 50 })).toBe(marbles([[50, '#']]), undefined, new AckTimeoutError('score', 1, 50));
      later(() => fake.last.receive({ type: 'ack', id: 1 }), 60);
      later(() => fake.last.drop(), 100); // the next socket comes at 200
      // B: sent while offline at 120, buffered: expires at 180, before the reconnect.
      later(() => {
        expectObservable(c.send('B', { ack: true, timeout: 60 })).toBe(marbles([[180, '#']]), undefined, new AckTimeoutError('score', 2, 60));
      }, 120);
      later(() => {
        expect(sentSummary(fake.sockets[0]!)).toEqual(['hello', 'sub:score', 'msg:score:"A"']);
        expect(sentSummary(fake.sockets[1]!)).toEqual(['hello', 'sub:score']); // neither A nor B
        keep.unsubscribe();
      }, 240);
    });
  });
});
