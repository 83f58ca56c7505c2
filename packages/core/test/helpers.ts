import { asyncScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import { connect, type Connection, type ConnectOptions } from '@rxmux/core';
import type { Frame } from '@rxmux/core/protocol';
import { FakeSocketFactory } from '@rxmux/core/testing';

/** A TestScheduler whose assertions are vitest's deep equality. */
export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** A separate connection on fake sockets with deterministic jitter (none) and no heartbeat unless asked. */
export function fakeConnection(options: ConnectOptions = {}): { conn: Connection; fake: FakeSocketFactory } {
  const fake = new FakeSocketFactory();
  const conn = connect('ws://fake.test/rt', {
    WebSocket: fake.WebSocket,
    shared: false,
    heartbeat: false,
    random: () => 1,
    ...options,
  });
  return { conn, fake };
}

/**
 * Builds a marble string from (time, symbol) pairs, so expected timelines can
 * be written as data. Symbols at the same time form a group.
 */
export function marbles(events: readonly (readonly [number, string])[], end = ''): string {
  const byTime = new Map<number, string>();
  for (const [time, symbol] of events) byTime.set(time, (byTime.get(time) ?? '') + symbol);
  let out = '';
  let now = 0;
  for (const [time, symbols] of [...byTime.entries()].sort((a, b) => a[0] - b[0])) {
    if (time < now) throw new Error(`marbles: event at ${time} overlaps the previous group (now ${now})`);
    if (time > now) out += ` ${time - now}ms `;
    out += symbols.length === 1 ? symbols : `(${symbols})`;
    now = time + (symbols.length === 1 ? 1 : symbols.length + 2);
  }
  return out + end;
}

/** Runs `fn` after `ms` on the async scheduler (virtual time inside `TestScheduler.run`). */
export function later(fn: () => void, ms: number): void {
  asyncScheduler.schedule(fn, ms);
}

/** Short readable names of the frames a fake socket received from the client, in order. */
export function sentSummary(socket: { readonly sentFrames: readonly Frame[] }): string[] {
  return socket.sentFrames.map((f) => {
    switch (f.type) {
      case 'subscribe':
        return `sub:${f.channel}`;
      case 'unsubscribe':
        return `unsub:${f.channel}`;
      case 'message':
        return `msg:${f.channel}:${f.data instanceof Uint8Array ? `bytes${f.data.length}` : JSON.stringify(f.data)}`;
      case 'request':
        return `req:${f.channel}:${f.id}`;
      case 'cancel':
        return `cancel:${f.id}`;
      default:
        return f.type;
    }
  });
}
