import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { BufferFullError, HeartbeatTimeoutError, RemoteError, RequestTimeoutError, type DroppedMessage } from '@rxmux/core';
import { FakeServer, marbles, runMarbles } from '@rxmux/core/testing';
import { toEqual } from './helpers.js';

describe('heartbeat (marbles)', () => {
  it('a silent link is closed with 4000 after interval + timeout, then reconnects', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 }, pong: false });
      const conn = server.connect({ heartbeat: { interval: 100, timeout: 50 }, reconnect: { initialDelay: 1000 } });
      const sub = conn.channel('a').subscribe();
      later(() => sub.unsubscribe(), 1200);
      // Welcome at 10, then nothing: the window of 150 ms ends at 160. Pings go out at 110.
      expectStatus(conn, marbles([[0, 'C'], [10, 'o'], [160, 'r']]), '^ 1100ms !');
      later(() => {
        expect(server.connections[0]?.closed).toEqual({ code: 4000, reason: 'heartbeat timeout', by: 'client' });
        expect(server.connections[0]?.summary()).toEqual(['hello', 'sub:a', 'ping']);
      }, 170);
    });
  });

  it('any inbound frame (here pongs to its pings) keeps the link alive', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 }, pong: false });
      const conn = server.connect({ heartbeat: { interval: 100, timeout: 50 } });
      const sub = conn.channel('a').subscribe();
      for (let t = 115; t < 1000; t += 100) later(() => server.last.send({ type: 'pong' }), t);
      later(() => sub.unsubscribe(), 1000);
      expectStatus(conn, marbles([[0, 'C'], [10, 'o']]), '^ 999ms !');
    });
  });

  it('no socket event within connectTimeout is a HeartbeatTimeoutError and a retry', () => {
    runMarbles(toEqual, ({ expectObservable }) => {
      const server = new FakeServer();
      const conn = server.connect({ connectTimeout: 300, reconnect: { initialDelay: 100, maxAttempts: 0 } });
      expectObservable(conn.transitions$.pipe(map((t) => t.error?.cause instanceof HeartbeatTimeoutError))).toBe(
        marbles([[300, 't']]),
        { t: true },
      );
      conn.channel('a').subscribe({ error: () => undefined });
      expect(server.connections).toHaveLength(1);
    });
  });
});

describe('offline buffer (marbles)', () => {
  it('flushes in order after the re-joins, in one batch', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 } });
      const conn = server.connect();
      const a = conn.channel('a');
      const sub = a.subscribe();
      for (const n of [1, 2, 3]) a.send(n);
      conn.channel('b').send('x');
      later(() => {
        expect(server.last.summary()).toEqual(['hello', 'sub:a', 'msg:a:1', 'msg:a:2', 'msg:a:3', 'msg:b:"x"']);
        expect(server.last.socket.sent).toHaveLength(2); // hello, then one coalesced batch
        sub.unsubscribe();
      }, 20);
    });
  });

  it('drop-oldest reports every evicted message on dropped$', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 } });
      const conn = server.connect({ buffer: { maxMessages: 3 } });
      const dropped: DroppedMessage[] = [];
      conn.dropped$.subscribe((d) => dropped.push(d));
      const c = conn.channel('c');
      for (const n of [1, 2, 3, 4, 5]) c.send(n);
      expect(dropped.map((d) => [d.reason, d.wire])).toEqual([['overflow', '[0,"c",1]'], ['overflow', '[0,"c",2]']]);
      later(() => expect(server.last.summary()).toEqual(['hello', 'msg:c:3', 'msg:c:4', 'msg:c:5']), 20);
    });
  });

  it("the 'error' policy throws BufferFullError and keeps what was queued", () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 } });
      const conn = server.connect({ buffer: { maxMessages: 2, overflow: 'error' } });
      const c = conn.channel('c');
      c.send(1);
      c.send(2);
      expect(() => c.send(3)).toThrow(BufferFullError);
      later(() => expect(server.last.summary()).toEqual(['hello', 'msg:c:1', 'msg:c:2']), 20);
    });
  });

  it('a byte bound applies too, and a message bigger than the buffer is refused', () => {
    runMarbles(toEqual, () => {
      const conn = new FakeServer().connect({ buffer: { maxBytes: 30, overflow: 'error' } });
      const c = conn.channel('c');
      c.send('0123456789'); // 21 bytes on the wire
      expect(() => c.send('x')).toThrow(/offline buffer full/);
      expect(() => c.sendBinary(new Uint8Array(64))).toThrow(/exceeds maxBytes/);
      conn.close();
    });
  });

  it('a send-only connection opens, flushes, and closes after the linger', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 } });
      const conn = server.connect({ linger: 50 });
      conn.channel('score').send({ goal: 1 });
      expectStatus(conn, marbles([[0, 'C'], [10, 'o'], [60, 'c']]));
      later(() => expect(server.last.summary()).toEqual(['hello', 'msg:score:{"goal":1}']), 11);
    });
  });

  it('messages still buffered when reconnecting gives up are reported as dropped (failed)', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer();
      const conn = server.connect({ reconnect: { initialDelay: 10, maxAttempts: 1 } });
      server.connection$.subscribe((c) => later(() => c.drop(), 1));
      const dropped: string[] = [];
      conn.dropped$.subscribe((d) => dropped.push(`${d.reason}:${String(d.wire)}`));
      conn.channel('c').send(7);
      later(() => expect(dropped).toEqual(['failed:[0,"c",7]']), 100);
    });
  });
});

describe('join and leave (marbles)', () => {
  it('shares one server join among subscribers and leaves once, after the linger', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ linger: 100 });
      const p1 = conn.channel<number>('player-1');
      // Two components: one from 0 to 200, one from 50 to 250; a third re-renders at 300-320 and 330-400.
      expectObservable(p1, '^ 200ms !').toBe(marbles([[20, 'a'], [60, 'b']]), { a: 72, b: 73 });
      expectObservable(p1, '50ms ^ 200ms !').toBe(marbles([[60, 'b']]), { b: 73 });
      later(() => server.last.publish('player-1', 72), 20);
      later(() => server.last.publish('player-1', 73), 60);
      // Both are gone at 251; the join lingers until 351.
      later(() => expect(server.last.summary()).toEqual(['hello', 'sub:player-1']), 340);
      later(() => expect(server.last.summary()).toEqual(['hello', 'sub:player-1', 'unsub:player-1']), 360);
    });
  });

  it('a re-render within the linger does not churn join/leave', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ linger: 100 });
      const ch = conn.channel('w');
      let sub = ch.subscribe();
      later(() => sub.unsubscribe(), 50);
      later(() => (sub = ch.subscribe()), 90); // resubscribed 40 ms later
      later(() => sub.unsubscribe(), 400);
      later(() => expect(server.last.summary()).toEqual(['hello', 'sub:w']), 300);
      later(() => {
        expect(server.connections[0]?.summary()).toEqual(['hello', 'sub:w', 'unsub:w']);
        expect(server.connections).toHaveLength(1);
        expect(server.openCount).toBe(0);
      }, 600);
    });
  });

  it('re-joins every active channel after a reconnect, before flushing the buffer', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 } });
      const subs = ['a', 'b', 'c'].map((id) => conn.channel(id).subscribe());
      later(() => server.last.drop(1001, 'going away'), 20);
      later(() => conn.channel('a').send('queued'), 30);
      later(() => {
        expect(server.connections).toHaveLength(2);
        expect(server.connections[1]?.summary()).toEqual(['hello', 'sub:a', 'sub:b', 'sub:c', 'msg:a:"queued"']);
        expect(server.connections[1]?.frames[0]).toEqual({ type: 'hello', version: 1, session: 's1', limits: { maxFrameBytes: 1024 * 1024, maxBatch: 1024 } });
      }, 200);
      later(() => subs.forEach((s) => s.unsubscribe()), 300);
    });
  });

  it('survives repeated faults: the third connection still re-joins and delivers', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 10 } });
      const values = conn.channel<number>('p');
      expectObservable(values, '^ 300ms !').toBe(marbles([[10, 'a'], [50, 'b'], [90, 'c']]), { a: 1, b: 2, c: 3 });
      later(() => server.last.publish('p', 1), 10);
      later(() => server.last.drop(), 20);
      later(() => server.last.publish('p', 2), 50);
      later(() => server.last.drop(), 60);
      later(() => server.last.publish('p', 3), 90);
      later(() => {
        expect(server.connections).toHaveLength(3);
        for (const c of server.connections) expect(c.summary()).toEqual(['hello', 'sub:p']);
        // listeners of replaced sockets are all removed: nothing piles up per reconnect
        expect(server.connections.slice(0, 2).map((c) => c.socket.listenerCount)).toEqual([0, 0]);
        expect(server.last.socket.listenerCount).toBe(4);
      }, 100);
    });
  });

  it('a refused subscription (unsubscribed) errors that channel only', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      expectObservable(conn.channel('secret')).toBe(
        marbles([[10, '#']]),
        undefined,
        new RemoteError('RXMUX_ERR_FORBIDDEN', 'not allowed', 'secret'),
      );
      expectObservable(conn.channel('public'), '^ 100ms !').toBe(marbles([[20, 'x']]), { x: 'still here' });
      later(() => server.last.refuse(server.last.takeFrame('subscribe', { channel: 'secret' }), 'RXMUX_ERR_FORBIDDEN', 'not allowed'), 10);
      later(() => server.last.publish('public', 'still here'), 20);
    });
  });

  it('an error frame about a channel (a refused send) is reported on its errors$ and conn.errors$; its subscribers go on', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const refused = new RemoteError('RXMUX_ERR_FORBIDDEN', 'not allowed to publish to board', 'board');
      expectObservable(conn.channel('board'), '^ 100ms !').toBe(marbles([[20, 'x']]), { x: 'after' });
      expectObservable(conn.channel('board').errors$, '^ 100ms !').toBe(marbles([[10, 'e']]), { e: refused });
      expectObservable(conn.errors$, '^ 100ms !').toBe(marbles([[10, 'e']]), { e: refused });
      later(() => conn.channel('board').send('spam'), 8);
      later(() => server.last.refuse(server.last.takeFrame('message', { channel: 'board' }), 'RXMUX_ERR_FORBIDDEN', 'not allowed to publish to board'), 10);
      later(() => server.last.publish('board', 'after'), 20);
    });
  });
});

describe('request/reply (marbles)', () => {
  it('emits the response once; request-error becomes RemoteError', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const ch = conn.channel('stats');
      expectObservable(ch.request({ op: 'a' })).toBe(marbles([[10, 'r'], [10, '|']]), { r: { total: 3 } });
      expectObservable(ch.request({ op: 'b' })).toBe(marbles([[10, '#']]), undefined, new RemoteError('E_NOPE', 'nope'));
      later(() => {
        const c = server.last;
        expect(c.summary()).toEqual(['hello', 'req:stats:1', 'req:stats:2']);
        c.answer(c.takeFrame('request'), { total: 3 });
        c.answerError(c.takeFrame('request'), 'E_NOPE', 'nope');
      }, 10);
    });
  });

  it('times out with RequestTimeoutError and sends a cancel', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const req = conn.channel('slow').request(null, { timeout: 100 });
      expectObservable(req).toBe(marbles([[100, '#']]), undefined, new RequestTimeoutError('slow', 100));
      later(() => expect(server.last.summary()).toEqual(['hello', 'req:slow:1', 'cancel:1']), 101);
    });
  });

  it('requests with different timeouts each time out at their own time; an answered one does not; a bad timeout throws at once', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const long = conn.channel('a').request(null, { timeout: 300 });
      const short = conn.channel('b').request(null, { timeout: 50 });
      const answered = conn.channel('c').request(null, { timeout: 20 });
      expectObservable(long).toBe(marbles([[300, '#']]), undefined, new RequestTimeoutError('a', 300));
      expectObservable(short).toBe(marbles([[50, '#']]), undefined, new RequestTimeoutError('b', 50));
      expectObservable(answered).toBe(marbles([[10, 'x'], [10, '|']]), { x: 'ok' });
      later(() => {
        const c = server.last;
        c.answer(c.takeFrame('request', { channel: 'c' }), 'ok');
      }, 10);
    });
    const conn = new FakeServer().connect();
    expect(() => conn.channel('a').request(null, { timeout: Number.NaN })).toThrow(/request timeout must be a non-negative number/);
    conn.close();
  });

  it('unsubscribing first sends a cancel; a late response is ignored', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const keep = conn.channel('x').subscribe();
      expectObservable(conn.channel('slow').request(1), '^ 20ms !').toBe('');
      later(() => {
        expect(server.last.summary()).toEqual(['hello', 'sub:x', 'req:slow:1', 'cancel:1']);
        server.last.answer(server.last.takeFrame('request'), 'late');
        keep.unsubscribe();
      }, 30);
    });
  });
});

describe('requests against a full buffer (marbles)', () => {
  it("errors with BufferFullError under the 'error' policy and holds nothing open", () => {
    runMarbles(toEqual, ({ expectObservable, expectStatus, later }) => {
      const server = new FakeServer();
      const conn = server.connect({ buffer: { maxMessages: 1, overflow: 'error' }, linger: 10 });
      server.connection$.subscribe((c) => later(() => c.drop(4401), 5)); // never opens: fails at 5
      conn.channel('a').send(1);
      expectObservable(conn.channel('a').request(2)).toBe('#', undefined, new BufferFullError('1/1 messages, 9/1048576 bytes'));
      expectStatus(conn, marbles([[0, 'C'], [5, 'f']]));
      later(() => expect(server.openCount).toBe(0), 20);
    });
  });
});

describe('sends while the socket is closing (marbles)', () => {
  it('are buffered, not written into a closing socket, and flushed on the next one', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ reconnect: { initialDelay: 50 } });
      const sub = conn.channel('a').subscribe();
      later(() => {
        server.last.socket.readyState = 2; // the server started the close handshake (1001)
        conn.channel('a').send('during close');
      }, 10);
      later(() => server.last.drop(1001, 'going away'), 20);
      later(() => {
        expect(server.connections[0]?.summary()).toEqual(['hello', 'sub:a']);
        expect(server.connections[1]?.summary()).toEqual(['hello', 'sub:a', 'msg:a:"during close"']);
        sub.unsubscribe();
      }, 100);
    });
  });

  it('unsubscribing while reconnecting stops the retries', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer();
      const conn = server.connect({ reconnect: { initialDelay: 100 } });
      server.connection$.subscribe((c) => later(() => c.drop(), 1));
      const sub = conn.channel('a').subscribe();
      later(() => sub.unsubscribe(), 50); // during the first backoff wait; the join lingers 1 s
      expectStatus(conn, marbles([[0, 'C'], [1, 'r'], [1050, 'c']]));
      // sockets at 0, 101, 302, 703 while lingering; none after the linger ended at 1050
      later(() => expect(server.connections).toHaveLength(4), 1050);
      later(() => expect(server.connections).toHaveLength(4), 60_000);
    });
  });

  it('close() while waiting to reconnect stops the retries at once', () => {
    runMarbles(toEqual, ({ expectObservable, expectStatus, later }) => {
      const server = new FakeServer();
      const conn = server.connect({ reconnect: { initialDelay: 100 } });
      server.connection$.subscribe((c) => later(() => c.drop(), 1));
      expectObservable(conn.channel('a')).toBe(marbles([[50, '|']]));
      later(() => conn.close(), 50);
      expectStatus(conn, marbles([[0, 'C'], [1, 'r'], [50, 'c'], [50, '|']]));
      later(() => expect(server.connections).toHaveLength(1), 60_000);
    });
  });
});

describe('frames larger than maxFrameBytes', () => {
  it('are refused at once with RXMUX_ERR_FRAME_TOO_BIG; nothing is queued or held, the channel goes on', () => {
    runMarbles(toEqual, ({ expectObservable, expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ maxFrameBytes: 64, linger: 10, transfers: false });
      const c = conn.channel('c');
      expect(() => c.send('x'.repeat(100))).toThrow(/exceeds maxFrameBytes 64/);
      expect(() => c.send('é'.repeat(30))).toThrow(/RXMUX_ERR_FRAME_TOO_BIG|exceeds/); // 30 chars, 67 bytes
      expect(() => c.send('y'.repeat(100), { ack: true })).toThrow(/exceeds/);
      expect(() => c.sendBinary(new Uint8Array(100))).toThrow(/exceeds/);
      expectObservable(c.request('z'.repeat(100))).toBe('#', undefined, expect.objectContaining({ code: 'RXMUX_ERR_FRAME_TOO_BIG' }));
      c.send('ok');
      later(() => expect(server.last.summary()).toEqual(['hello', 'msg:c:"ok"']), 6);
      expectStatus(conn, marbles([[0, 'C'], [5, 'o'], [15, 'c']]));
    });
  });
});

describe('channel objects', () => {
  it('stay bounded under many short-lived ids, and every object for an id shares one join', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ linger: 10 });
      const first = conn.channel('keep');
      for (let i = 0; i < 3000; i++) conn.channel(`once-${i}`); // send-only ids: their objects may be dropped
      const again = conn.channel('keep'); // a new object if the first was evicted: it must not matter
      const a = first.subscribe();
      const b = again.subscribe();
      later(() => {
        expect(server.last.summary().filter((f) => f === 'sub:keep')).toHaveLength(1);
        a.unsubscribe();
        b.unsubscribe();
      }, 20);
      later(() => expect(server.last.summary().filter((f) => f === 'unsub:keep')).toHaveLength(1), 40);
      later(() => first.subscribe(), 50); // the old object joins again after the stream was forgotten
      later(() => {
        // nothing was joined in between, so that was a new socket, and it joined once
        expect(server.connections).toHaveLength(2);
        expect(server.last.summary()).toEqual(['hello', 'sub:keep']);
        conn.close();
      }, 60);
    });
  });
});
