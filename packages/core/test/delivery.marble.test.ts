import { describe, expect, it } from 'vitest';
import { AckTimeoutError, ConnectionClosedError, RemoteError, type GapNotice } from '@rxmux/core';
import { FakeServer, marbles, runMarbles } from '@rxmux/core/testing';
import { toEqual } from './helpers.js';

describe('acknowledged sends (marbles)', () => {
  it('emits the ack and completes; re-sends unacked messages after a reconnect, in order, before newer ones', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 } });
      const c = conn.channel('score');
      expectObservable(c.send({ n: 1 }, { ack: true })).toBe(marbles([[10, 'a'], [10, '|']]), { a: { id: 1 } });
      expectObservable(c.send({ n: 2 }, { ack: true })).toBe(marbles([[130, 'a'], [130, '|']]), { a: { id: 2 } });
      expectObservable(c.send({ n: 3 }, { ack: true })).toBe(marbles([[130, 'a'], [130, '|']]), { a: { id: 3 } });
      later(() => server.last.ack(1), 10);
      later(() => server.last.drop(), 20); // 2 and 3 are written but unacked
      later(() => c.send({ n: 4 }), 50); // buffered while reconnecting
      later(() => {
        const again = server.last;
        expect(again.summary()).toEqual(['hello', 'msg:score:{"n":2}', 'msg:score:{"n":3}', 'msg:score:{"n":4}']);
        const [two, three] = [again.takeFrame('message'), again.takeFrame('message')];
        expect([two.id, three.id]).toEqual([2, 3]);
        again.ack(two);
        again.ack(three);
        again.ack(three); // a duplicate ack is ignored
      }, 130);
    });
  });

  it('an error frame naming the message id errors that ack only; the channel goes on', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const c = conn.channel<number, number | string>('score');
      expectObservable(c, '^ 50ms !').toBe(marbles([[20, 'x']]), { x: 9 });
      expectObservable(c.send('bad', { ack: true })).toBe(marbles([[10, '#']]), undefined, new RemoteError('E_BAD', 'bad score', 'score'));
      later(() => server.last.refuse(server.last.takeFrame('message', { channel: 'score' }), 'E_BAD', 'bad score'), 10);
      later(() => server.last.publish('score', 9), 20);
    });
  });

  it('keeps the connection open until the ack, then closes after the linger', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ linger: 50 });
      conn.channel('score').send(1, { ack: true }).subscribe();
      later(() => server.last.ack(1), 200);
      expectStatus(conn, marbles([[0, 'C'], [5, 'o'], [250, 'c']]));
    });
  });

  it('close() errors pending acks with ConnectionClosedError and reports buffered messages', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const conn = new FakeServer().connect();
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
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 } });
      const c = conn.channel<number>('p');
      expectObservable(c, '^ 300ms !').toBe(marbles([[10, 'a'], [11, 'b'], [12, 'c'], [130, 'd'], [131, 'e']]), { a: 1, b: 2, c: 3, d: 4, e: 5 });
      later(() => server.last.subscribed('p', { epoch: 'e1', seq: 0 }), 6);
      later(() => server.last.publish('p', 1, { seq: 1 }), 10);
      later(() => server.last.publish('p', 2, { seq: 2 }), 11);
      later(() => server.last.publish('p', 3, { seq: 3 }), 12);
      later(() => server.last.drop(), 20);
      later(() => {
        // the re-join asks for what came after 3 in epoch e1
        expect(server.last.frames[1]).toEqual({ type: 'subscribe', channel: 'p', since: 3, epoch: 'e1' });
        server.last.subscribed('p', { epoch: 'e1', seq: 5 });
        server.last.publish('p', 3, { seq: 3 }); // a duplicate: dropped
      }, 126);
      later(() => server.last.publish('p', 4, { seq: 4 }), 130);
      later(() => server.last.publish('p', 5, { seq: 5 }), 131);
      later(() => server.last.publish('p', 5, { seq: 5 }), 132); // again: dropped
    });
  });

  it('a gap frame becomes a GapNotice on gaps$, and delivery continues in order after it', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 } });
      const c = conn.channel<number>('p');
      const notice: GapNotice = { channel: 'p', reason: 'history', since: 1, seq: 50, epoch: 'e1' };
      expectObservable(c, '^ 300ms !').toBe(marbles([[10, 'a'], [130, 'z']]), { a: 1, z: 51 });
      expectObservable(c.gaps$, '^ 300ms !').toBe(marbles([[126, 'g']]), { g: notice });
      later(() => server.last.subscribed('p', { epoch: 'e1', seq: 0 }), 6);
      later(() => server.last.publish('p', 1, { seq: 1 }), 10);
      later(() => server.last.drop(), 20);
      later(() => {
        server.last.gap('p', { epoch: 'e1', seq: 50, reason: 'history', since: 1 });
        server.last.subscribed('p', { epoch: 'e1', seq: 50 });
      }, 126);
      later(() => server.last.publish('p', 50, { seq: 50 }), 129); // at or before the gap's seq: dropped
      later(() => server.last.publish('p', 51, { seq: 51 }), 130);
    });
  });

  it('an epoch change without a gap frame (a restarted server) still yields a notice', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 } });
      const c = conn.channel<number>('p');
      expectObservable(c.gaps$, '^ 300ms !').toBe(marbles([[126, 'g']]), {
        g: { channel: 'p', reason: 'epoch', since: 7, seq: 0, epoch: 'e2' },
      });
      expectObservable(c, '^ 300ms !').toBe(marbles([[10, 'a'], [130, 'b']]), { a: 7, b: 1 });
      later(() => server.last.subscribed('p', { epoch: 'e1', seq: 6 }), 6);
      later(() => server.last.publish('p', 7, { seq: 7 }), 10);
      later(() => server.last.drop(), 20);
      later(() => server.last.subscribed('p', { epoch: 'e2', seq: 0 }), 126);
      later(() => server.last.publish('p', 1, { seq: 1 }), 130);
    });
  });

  it('a jump in sequence numbers is reported as a hole and the message still delivered', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const c = conn.channel<number>('p');
      expectObservable(c.gaps$, '^ 50ms !').toBe(marbles([[11, 'g']]), { g: { channel: 'p', reason: 'hole', since: 1, seq: 3, epoch: 'e' } });
      expectObservable(c, '^ 50ms !').toBe(marbles([[10, 'a'], [11, 'b']]), { a: 1, b: 4 });
      later(() => server.last.subscribed('p', { epoch: 'e', seq: 0 }), 6);
      later(() => server.last.publish('p', 1, { seq: 1 }), 10);
      later(() => server.last.publish('p', 4, { seq: 4 }), 11);
    });
  });

  it('after leaving, a new join starts from live (no resume fields)', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ linger: 10 });
      const keep = conn.channel('other').subscribe();
      const sub = conn.channel('p').subscribe();
      later(() => server.last.subscribed('p', { epoch: 'e', seq: 3 }), 6);
      later(() => server.last.publish('p', 4, { seq: 4 }), 7);
      later(() => sub.unsubscribe(), 8);
      later(() => conn.channel('p').subscribe(), 30);
      later(() => {
        expect(server.last.frames.filter((f) => f.type === 'subscribe' && f.channel === 'p')).toEqual([
          { type: 'subscribe', channel: 'p' },
          { type: 'subscribe', channel: 'p' },
        ]);
        keep.unsubscribe();
      }, 40);
    });
  });

  it('a request in flight during a reconnect is sent again and answered once', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 } });
      expectObservable(conn.channel('q').request('x')).toBe(marbles([[130, 'r'], [130, '|']]), { r: 'y' });
      later(() => server.last.drop(), 20);
      later(() => {
        expect(server.last.summary()).toEqual(['hello', 'req:q:1']);
        server.last.answer(1, 'y');
        server.last.answer(1, 'y');
      }, 130);
    });
  });
});

describe('ack timeout (marbles)', () => {
  it('errors with AckTimeoutError and withdraws the message: no re-send, no flush from the buffer', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 }, linger: 10 });
      const c = conn.channel('score');
      const keep = c.subscribe(); // keeps the connection wanted across the drop
      // A: written at 5, never acked: expires at 50; its late ack at 60 is ignored.
      expectObservable(c.send('A', { ack: true, timeout: 50 })).toBe(marbles([[50, '#']]), undefined, new AckTimeoutError('score', 1, 50));
      later(() => server.last.ack(1), 60);
      later(() => server.last.drop(), 100); // the next socket comes at 200
      // B: sent while offline at 120, buffered: expires at 180, before the reconnect.
      later(() => {
        expectObservable(c.send('B', { ack: true, timeout: 60 })).toBe(marbles([[180, '#']]), undefined, new AckTimeoutError('score', 2, 60));
      }, 120);
      later(() => {
        expect(server.connections[0]?.summary()).toEqual(['hello', 'sub:score', 'msg:score:"A"']);
        expect(server.connections[1]?.summary()).toEqual(['hello', 'sub:score']); // neither A nor B
        keep.unsubscribe();
      }, 240);
    });
  });
});
