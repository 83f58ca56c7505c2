import { asyncScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import { connect, type Connection, type ConnectOptions, type Frame } from '@rxmux/core';
import { describeFrame, FakeSocketFactory } from '@rxmux/core/testing';

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

export { marbles } from '@rxmux/core/testing';

/** Runs `fn` after `ms` on the async scheduler (virtual time inside `TestScheduler.run`). */
export function later(fn: () => void, ms: number): void {
  asyncScheduler.schedule(fn, ms);
}

/** Short readable names of the frames a fake socket received from the client, in order. */
export function sentSummary(socket: { readonly sentFrames: readonly Frame[] }): string[] {
  return socket.sentFrames.map(describeFrame);
}
