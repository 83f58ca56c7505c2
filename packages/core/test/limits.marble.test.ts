/**
 * What the client does with the server's limits and receipts (issue 9):
 * it paces its writes to the announced token bucket, keeps plain sends until
 * a receipt covers them and re-sends what a resumed session did not take,
 * reports the rest, skips frames it cannot take, and tells each channel's
 * join state.
 */
import fc from 'fast-check';
import { asyncScheduler, type Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ChannelState, DroppedMessage, GapNotice, RxmuxError } from '@rxmux/core';
import { decode, ErrorCode, fullBucket, takeTokens } from '@rxmux/core/protocol';
import { FakeServer, runMarbles, type FakeWebSocket } from '@rxmux/core/testing';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/operators/backoff.js';
import { toEqual } from './helpers.js';

/** Envelopes per WebSocket message the socket carried, with the (virtual) time each was written. */
function recordWrites(socket: FakeWebSocket, now: () => number, log: { at: number; envelopes: number }[]): void {
  const send = socket.send.bind(socket);
  socket.send = (data) => {
    send(data);
    log.push({ at: now(), envelopes: decode(socket.sent.at(-1)).frames.length + decode(socket.sent.at(-1)).errors.length });
  };
}

describe('pacing to the announced rate', () => {
  it('250 subscribes after a welcome announcing 100/s, burst 200: what fits the margin goes at once, the rest paced, all in the server bucket', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5, received: 0, limits: { maxFrameBytes: 1 << 20, maxBatch: 1024, rate: 100, burst: 200 } } });
      const conn = server.connect();
      const writes: { at: number; envelopes: number }[] = [];
      server.connection$.subscribe((c) => recordWrites(c.socket, () => asyncScheduler.now(), writes));
      const subs = Array.from({ length: 250 }, (_, i) => conn.channel(`c${i}`).subscribe());
      later(() => {
        const subscribes = server.last.summary().filter((s) => s.startsWith('sub:'));
        expect(subscribes).toHaveLength(250);
        // Replayed through the server's own bucket at the times they were written: nothing refused.
        const bucket = fullBucket({ rate: 100, burst: 200 }, 0);
        for (const { at, envelopes } of writes) expect(takeTokens(bucket, envelopes, at, { rate: 100, burst: 200 })).toBe(true);
        expect(writes[0]?.envelopes).toBe(32); // the hello batch: the hello and 31 subscribes (MIN_SERVER_LIMITS)
        expect(writes[1]?.envelopes).toBe(118); // 75 % of the burst, less the hello batch
      }, 2_000);
      later(() => subs.forEach((s) => s.unsubscribe()), 2_100);
    });
  });

  it('property: whatever the app sends, when, the client never writes more than the announced bucket allows', () => {
    fc.assert(
      fc.property(
        fc.record({ rate: fc.integer({ min: 5, max: 500 }), burst: fc.integer({ min: 2, max: 300 }) }),
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 3_000 }), n: fc.integer({ min: 1, max: 40 }), kind: fc.constantFrom('send', 'subscribe') }), { maxLength: 30 }),
        ({ rate, burst }, bursts) => {
          runMarbles(toEqual, ({ later }) => {
            const server = new FakeServer({ autoWelcome: { after: 1, received: 0, limits: { maxFrameBytes: 1 << 20, maxBatch: 1024, rate, burst } } });
            const conn = server.connect({ buffer: { maxMessages: 100_000, maxBytes: 1 << 30 } });
            const writes: { at: number; envelopes: number }[] = [];
            server.connection$.subscribe((c) => recordWrites(c.socket, () => asyncScheduler.now(), writes));
            const subs = [conn.channel('keep').subscribe()];
            let next = 0;
            for (const b of bursts) {
              later(() => {
                for (let i = 0; i < b.n; i++) {
                  if (b.kind === 'send') conn.channel('keep').send(next++);
                  else subs.push(conn.channel(`s${next++}`).subscribe());
                }
              }, b.at);
            }
            later(() => {
              const bucket = fullBucket({ rate, burst }, 0);
              bucket.tokens -= 1; // the hello
              for (const { at, envelopes } of writes.slice(1)) expect(takeTokens(bucket, envelopes, at, { rate, burst })).toBe(true);
              subs.forEach((s) => s.unsubscribe());
            }, 200_000);
          });
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('receipts', () => {
  it('plain sends the resumed session did not take are re-sent, in order, after the re-joins', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer();
      const conn = server.connect({ reconnect: { initialDelay: 10 } });
      // The second welcome resumes session s1 (the kit's default for a hello naming it), saying the server took 2.
      server.connection$.subscribe((c) => later(() => c.welcome({ received: server.connections.length === 1 ? 0 : 2 }), 5));
      const sub = conn.channel('a').subscribe();
      for (const n of [1, 2, 3, 4]) later(() => conn.channel('a').send(n), 10 + n);
      later(() => server.last.receipt(1), 20);
      later(() => server.last.drop(), 30);
      later(() => {
        expect(server.connections).toHaveLength(2);
        expect(server.last.welcomed).toMatchObject({ session: 's1', resumed: true, received: 2 });
        // The server took 2 of the 4 (it says so in the welcome): 3 and 4 go again, once.
        expect(server.connections[1]?.summary()).toEqual(['hello', 'sub:a', 'msg:a:3', 'msg:a:4']);
      }, 100);
      later(() => sub.unsubscribe(), 200);
    });
  });

  it('a welcome that did not resume the session reports unconfirmed plain sends on dropped$ and does not re-send them', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer();
      const conn = server.connect({ reconnect: { initialDelay: 10 } });
      server.connection$.subscribe((c) => later(() => c.welcome({ session: `s${server.connections.length}`, received: 0, resumed: false }), 5));
      const dropped: DroppedMessage[] = [];
      conn.dropped$.subscribe((d) => dropped.push(d));
      const sub = conn.channel('a').subscribe();
      later(() => conn.channel('a').send('x'), 10);
      later(() => conn.channel('a').send('y'), 11);
      later(() => server.last.receipt(1), 20);
      later(() => server.last.drop(), 30);
      later(() => {
        expect(dropped.map((d) => [d.reason, d.wire])).toEqual([['unconfirmed', '[0,"a","y"]']]);
        expect(server.connections[1]?.summary()).toEqual(['hello', 'sub:a']);
      }, 100);
      later(() => sub.unsubscribe(), 200);
    });
  });

  it('keeps the socket open until the receipt came, then lingers and closes', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 }, receipts: true });
      const conn = server.connect({ linger: 50 });
      conn.channel('a').send('x');
      later(() => expect(server.last.welcomed?.received).toBe(0), 6);
      later(() => expect(server.last.socket.readyState).toBe(1), 200); // written, not confirmed: held
      later(() => server.last.receipt(), 300); // received: 1
      later(() => expect(server.last.socket.readyState).toBe(1), 340);
      later(() => expect(server.last.closed).toEqual({ code: 1000, reason: 'client closed', by: 'client' }), 360);
    });
  });
});

describe('frames the client cannot take', () => {
  it('a publication over maxFrameBytes is reported on errors$ and skipped by its seq: no hole afterwards, no replay loop', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ maxFrameBytes: 200 });
      const errors: RxmuxError[] = [];
      conn.errors$.subscribe((e) => errors.push(e));
      const gaps: GapNotice[] = [];
      const ch = conn.channel<string>('v');
      ch.gaps$.subscribe((g) => gaps.push(g));
      expectObservable(ch, '^ 100ms !').toBe('30ms a', { a: 'small' });
      later(() => server.last.subscribed('v', { epoch: 'E', seq: 4 }), 10);
      later(() => server.last.publish('v', 'x'.repeat(300), { seq: 5 }), 20); // 308 bytes
      later(() => server.last.publish('v', 'small', { seq: 6 }), 30);
      later(() => {
        expect(errors.map((e) => e.code)).toEqual([ErrorCode.FrameTooBig]);
        expect(gaps).toEqual([{ channel: 'v', reason: 'too-big', since: 4, seq: 5, epoch: 'E' }]);
        expect(conn.channel('v').id).toBe('v');
      }, 50);
    });
  });

  it("a server's gap 'too-big' moves the position and is reported on errors$ too", () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const errors: RxmuxError[] = [];
      conn.errors$.subscribe((e) => errors.push(e));
      const gaps: GapNotice[] = [];
      const ch = conn.channel('v');
      ch.gaps$.subscribe((g) => gaps.push(g));
      const sub = ch.subscribe();
      later(() => server.last.subscribed('v', { epoch: 'E', seq: 1 }), 10);
      later(() => server.last.gap('v', { epoch: 'E', seq: 2, reason: 'too-big', since: 1 }), 20);
      later(() => {
        expect(gaps).toEqual([{ channel: 'v', reason: 'too-big', since: 1, seq: 2, epoch: 'E' }]);
        expect(errors.map((e) => [e.code, (e as { channel?: string }).channel])).toEqual([[ErrorCode.FrameTooBig, 'v']]);
        sub.unsubscribe();
      }, 30);
    });
  });
});

describe('channel.state$', () => {
  it('idle → joining → joined, joining again while reconnecting, joined after the re-join, idle after the linger', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ linger: 20, reconnect: { initialDelay: 10 } });
      const ch = conn.channel('p');
      const values: Record<string, ChannelState> = { i: 'idle', g: 'joining', j: 'joined' };
      //   idle at 0, subscribe at 10 (joining), confirmed at 20, drop at 40, reconnect 50 + welcome 55, confirmed 60, leave at 80 + 20 ms linger
      expectObservable(ch.state$, '^ 200ms !').toBe('i 9ms g 9ms j 19ms g 19ms j 39ms i', values);
      let sub: Subscription | undefined;
      later(() => (sub = ch.subscribe()), 10);
      later(() => server.last.subscribed('p', { epoch: 'E', seq: 0 }), 20);
      later(() => server.last.drop(), 40);
      later(() => server.last.subscribed('p', { epoch: 'E', seq: 0 }), 60);
      later(() => sub?.unsubscribe(), 80);
    });
  });

  it('a refused subscription goes back to idle', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect();
      const ch = conn.channel('secret');
      expectObservable(ch.state$, '^ 100ms !').toBe('i 9ms g 9ms i', { i: 'idle', g: 'joining' });
      later(() => ch.subscribe({ error: () => undefined }), 10);
      later(() => server.last.refuse('secret', ErrorCode.Forbidden, 'no'), 20);
    });
  });
});

describe('backoffDelay', () => {
  it('is a finite delay in [0, maxDelay] for any attempt, even with a zero initial delay after 1,024 failures', () => {
    expect(backoffDelay(1025, { ...DEFAULT_BACKOFF, initialDelay: 0 }, () => 0.5)).toBe(0);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.record({
          initialDelay: fc.double({ min: 0, max: 1e6, noNaN: true }),
          multiplier: fc.double({ min: 0, max: 100, noNaN: true }),
          maxDelay: fc.double({ min: 0, max: 1e7, noNaN: true }),
          jitter: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, p, r) => {
          const d = backoffDelay(attempt, { ...DEFAULT_BACKOFF, ...p }, () => r);
          return Number.isFinite(d) && d >= 0 && d <= Math.round(p.maxDelay);
        },
      ),
    );
  });
});
