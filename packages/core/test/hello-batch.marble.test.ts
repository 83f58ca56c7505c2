import { describe, expect, it } from 'vitest';
import type { ConnectionStatus, DroppedMessage } from '@rxmux/core';
import { decode, encodeBatch, encodeText, fullBucket, MIN_SERVER_LIMITS, takeTokens, type Frame, type ServerFrame, type ServerLimits } from '@rxmux/core/protocol';
import { FakeServer, runMarbles, type FakeConnectOptions, type FakeWebSocket } from '@rxmux/core/testing';
import { toEqual } from './helpers.js';

/** PROTOCOL.md 6.1: the hello and the page's subscribes travel in one message, the answers come back in one. */

const welcome = (fields: { session?: string; resumed?: boolean; received?: number; limits?: ServerLimits } = {}): ServerFrame => ({
  type: 'welcome',
  version: 1,
  session: fields.session ?? 's1',
  heartbeat: 30_000,
  ...fields,
});

/** Several server frames as one WebSocket message (what the server's writer sends in one turn). */
const batch = (...frames: ServerFrame[]): string => encodeBatch(frames.map((frame) => encodeText(frame)));

/** The frames of each WebSocket message the client wrote, by message. */
const messages = (socket: FakeWebSocket): string[][] =>
  socket.sent.map((wire) => decode(wire).frames.map((f: Frame) => ('channel' in f && f.type !== 'message' ? `${f.type === 'subscribe' ? 'sub' : 'unsub'}:${f.channel}` : f.type)));

const utf8 = new TextEncoder();

/** A scripted server whose sockets open `after` ms after the client makes them (no welcome until the test sends one). */
const serverAccepting = (later: (action: () => void, at: number) => void, after = 5): FakeServer => {
  const server = new FakeServer();
  server.connection$.subscribe((c) => later(() => c.accept(), after));
  return server;
};

/** The client's connection to `server`. */
const connectTo = (server: FakeServer, options: FakeConnectOptions = {}) => server.connect(options);

describe('the hello batch (marbles)', () => {
  it('the first message holds the hello and the subscribes of every active channel; the welcome brings the answers and nothing is subscribed again', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = serverAccepting(later);
      const conn = connectTo(server);
      const seen: unknown[] = [];
      for (const id of ['a', 'b', 'c']) conn.channel(id).subscribe((v) => seen.push([id, v]));
      later(() => {
        expect(messages(server.last.socket)).toEqual([['hello', 'sub:a', 'sub:b', 'sub:c']]);
        server.last.socket.receive(
          batch(
            welcome(),
            { type: 'subscribed', channel: 'a', epoch: 'e', seq: 4 },
            { type: 'subscribed', channel: 'b', epoch: 'e', seq: 0 },
            { type: 'subscribed', channel: 'c', epoch: 'e', seq: 9 },
            { type: 'publication', channel: 'a', data: 'first', seq: 5 },
          ),
        );
      }, 10);
      later(() => {
        expect(messages(server.last.socket)).toEqual([['hello', 'sub:a', 'sub:b', 'sub:c']]); // nothing after the welcome
        expect(seen).toEqual([['a', 'first']]);
      }, 50);
      expectObservable(conn.status$, '^ 60ms !').toBe('c 9ms o', { c: 'connecting', o: 'open' });
    });
  });

  it('a channel joined after the hello is subscribed after the welcome; one left before the welcome is unsubscribed', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = serverAccepting(later);
      const conn = connectTo(server, { linger: 0 });
      const a = conn.channel('a').subscribe();
      const keep = conn.channel('keep').subscribe();
      later(() => {
        a.unsubscribe(); // its subscribe went with the hello: the server will join it
        conn.channel('b').subscribe();
      }, 7);
      later(() => server.last.socket.receive(welcome()), 10);
      later(() => {
        expect(messages(server.last.socket)).toEqual([
          ['hello', 'sub:a', 'sub:keep'],
          ['unsub:a', 'sub:b'],
        ]);
        keep.unsubscribe();
      }, 20);
    });
  });

  it('resume: the next hello carries each position; unreceipted sends are re-sent after the welcome, then the buffer; open comes last', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = serverAccepting(later);
      const conn = connectTo(server, { reconnect: { initialDelay: 100 } });
      const p = conn.channel<number, string>('p');
      const values: number[] = [];
      p.subscribe((v) => values.push(v));
      // When 'open' is announced, everything the welcome owes was written already.
      const atOpen: string[][] = [];
      conn.status$.subscribe((s: ConnectionStatus) => {
        if (s === 'open') atOpen.push(server.last.summary());
      });
      later(() => {
        server.last.socket.receive(batch(welcome({ received: 0 }), { type: 'subscribed', channel: 'p', epoch: 'e1', seq: 0 }, { type: 'publication', channel: 'p', data: 1, seq: 1 }));
        p.send('x'); // plain: kept until a receipt covers it
      }, 10);
      later(() => server.last.socket.receive({ type: 'publication', channel: 'p', data: 2, seq: 2 }), 12);
      later(() => server.last.drop(), 20);
      later(() => p.send('y'), 30); // offline: buffered
      later(() => {
        // The new socket's first message: the hello naming the session, and the re-join from seq 2 of e1.
        expect(server.connections).toHaveLength(2);
        expect(server.last.frames).toEqual([
          { type: 'hello', version: 1, session: 's1', limits: { maxFrameBytes: 1024 * 1024, maxBatch: 1024 } },
          { type: 'subscribe', channel: 'p', since: 2, epoch: 'e1' },
        ]);
        expect(server.last.socket.sent).toHaveLength(1);
        server.last.socket.receive(batch(welcome({ resumed: true, received: 0 }), { type: 'subscribed', channel: 'p', epoch: 'e1', seq: 3 }, { type: 'publication', channel: 'p', data: 3, seq: 3 }));
      }, 130);
      later(() => {
        expect(server.last.summary()).toEqual(['hello', 'sub:p', 'msg:p:"x"', 'msg:p:"y"']); // no second subscribe
        expect(atOpen.at(-1)).toEqual(['hello', 'sub:p', 'msg:p:"x"', 'msg:p:"y"']);
        expect(values).toEqual([1, 2, 3]);
      }, 140);
      later(() => conn.close(), 150);
    });
  });

  it('a new session (not resumed): unconfirmed sends are reported, the buffer still flushed after the welcome', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = serverAccepting(later);
      const conn = connectTo(server, { reconnect: { initialDelay: 100 } });
      const dropped: DroppedMessage['reason'][] = [];
      conn.dropped$.subscribe((d) => dropped.push(d.reason));
      const p = conn.channel('p');
      p.subscribe();
      later(() => {
        server.last.socket.receive(batch(welcome({ received: 0 }), { type: 'subscribed', channel: 'p', epoch: 'e1', seq: 5 }));
        p.send('x');
      }, 10);
      later(() => server.last.drop(), 20);
      later(() => p.send('y'), 30);
      later(() => {
        expect(server.last.summary()).toEqual(['hello', 'sub:p']);
        server.last.socket.receive(welcome({ session: 's9', resumed: false, received: 0 }));
      }, 130);
      later(() => {
        expect(dropped).toEqual(['unconfirmed']);
        expect(server.last.summary()).toEqual(['hello', 'sub:p', 'msg:p:"y"']);
      }, 140);
      later(() => conn.close(), 150);
    });
  });

  it('250 channels: the hello batch stays within MIN_SERVER_LIMITS; the rest follow the welcome, paced to the announced bucket', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer();
      const writes: { at: number; envelopes: number; bytes: number }[] = [];
      const limits = { maxFrameBytes: 1 << 20, maxBatch: 1024, rate: 100, burst: 200 };
      let now = 0;
      server.connection$.subscribe(({ socket }) => {
        const send = socket.send.bind(socket);
        socket.send = (data) => {
          send(data);
          const wire = socket.sent.at(-1) as string;
          writes.push({ at: now, envelopes: decode(wire).frames.length, bytes: utf8.encode(wire).byteLength });
        };
        later(() => socket.accept(), 5);
      });
      const conn = connectTo(server);
      // Long ids, so the byte bound binds before the envelope bound.
      const subs = Array.from({ length: 250 }, (_, i) => conn.channel(`${String(i).padStart(3, '0')}-${'x'.repeat(240)}`).subscribe());
      later(() => {
        const [first] = writes;
        expect(writes).toHaveLength(1);
        expect(first?.bytes).toBeLessThanOrEqual(MIN_SERVER_LIMITS.maxFrameBytes);
        expect(first?.envelopes).toBeLessThanOrEqual(MIN_SERVER_LIMITS.maxBatch);
        expect(first?.envelopes).toBeGreaterThan(20);
        server.last.socket.receive(welcome({ received: 0, limits }));
      }, 10);
      const tick = (t: number): void => later(() => (now = t), t);
      for (let t = 0; t <= 3_000; t += 10) tick(t);
      later(() => {
        const subscribes = server.last.summary().filter((s) => s.startsWith('sub:'));
        expect(subscribes).toHaveLength(250);
        expect(new Set(subscribes).size).toBe(250); // each once
        // The server's bucket (full at the first message) pays for every write at the time it was made.
        const bucket = fullBucket({ rate: limits.rate, burst: limits.burst }, 0);
        for (const { at, envelopes } of writes) expect(takeTokens(bucket, envelopes, at, limits)).toBe(true);
        subs.forEach((s) => s.unsubscribe());
      }, 3_000);
    });
  });

  it('a small client maxFrameBytes bounds the hello batch too; the hello alone still goes', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = serverAccepting(later);
      const conn = connectTo(server, { maxFrameBytes: 96 });
      const subs = ['a', 'b'].map((id) => conn.channel(id).subscribe());
      later(() => {
        const [first] = server.last.socket.sent;
        expect(utf8.encode(first as string).byteLength).toBeLessThanOrEqual(96);
        expect(server.last.summary()[0]).toBe('hello');
        server.last.socket.receive(welcome());
      }, 10);
      later(() => {
        expect(server.last.summary().filter((s) => s.startsWith('sub:')).sort()).toEqual(['sub:a', 'sub:b']);
        subs.forEach((s) => s.unsubscribe());
      }, 20);
    });
  });
});
