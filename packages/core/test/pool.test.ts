import { asyncScheduler, config } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connect, ConnectionClosedError, InvalidArgumentError } from '@rxmux/core';
import { FakeServer } from '@rxmux/core/testing';

describe('connect() pooling', () => {
  it('returns the same instance for the same URL and equal options, ref-counted', () => {
    const fake = new FakeServer();
    const a = connect('ws://pool.test/1', { WebSocket: fake.WebSocket, reconnect: { maxDelay: 5000, initialDelay: 100 } });
    const b = connect('ws://pool.test/1', { WebSocket: fake.WebSocket, reconnect: { initialDelay: 100, maxDelay: 5000 } });
    const other = connect('ws://pool.test/2', { WebSocket: fake.WebSocket });
    const separate = connect('ws://pool.test/1', { WebSocket: fake.WebSocket, shared: false });
    expect(b).toBe(a);
    expect(other).not.toBe(a);
    expect(separate).not.toBe(a);
    a.close(); // one reference left: still usable
    expect(() => b.channel('x')).not.toThrow();
    b.close(); // last reference: closed for good, and gone from the pool
    expect(() => b.channel('x')).toThrow(ConnectionClosedError);
    const fresh = connect('ws://pool.test/1', { WebSocket: fake.WebSocket, reconnect: { initialDelay: 100, maxDelay: 5000 } });
    expect(fresh).not.toBe(a);
    for (const c of [fresh, other, separate]) c.close();
  });

  it('different WebSocket constructors or schedulers make different connections', () => {
    const f1 = new FakeServer();
    const f2 = new FakeServer();
    const a = connect('ws://pool.test/3', { WebSocket: f1.WebSocket });
    const b = connect('ws://pool.test/3', { WebSocket: f2.WebSocket });
    const c = connect('ws://pool.test/3', { WebSocket: f1.WebSocket, scheduler: asyncScheduler });
    expect(new Set([a, b, c]).size).toBe(3);
    for (const x of [a, b, c]) x.close();
  });

  it('rejects bad arguments at once with clear errors', () => {
    const fake = new FakeServer();
    expect(() => connect('', { WebSocket: fake.WebSocket })).toThrow(InvalidArgumentError);
    expect(() => connect('ws://x', { WebSocket: fake.WebSocket, shared: false, linger: -1 })).toThrow(/linger must be a non-negative number/);
    const conn = connect('ws://x', { WebSocket: fake.WebSocket, shared: false });
    expect(() => conn.channel('')).toThrow(/must not be empty/);
    expect(() => conn.channel('x'.repeat(300))).toThrow(/at most 255 UTF-8 bytes/);
    expect(() => conn.channel('c').send(undefined as never)).toThrow(/required/);
    conn.close();
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    g.WebSocket = undefined;
    try {
      expect(() => connect('ws://x', { shared: false })).toThrow(/no WebSocket constructor/);
    } finally {
      g.WebSocket = saved;
    }
  });
});

describe('the seed scenario', () => {
  it('nine components subscribing to nine channels on one URL construct exactly one socket', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const ids = ['audio-recorder', 'manual-input', 'player-1', 'player-2', 'player-3', 'player-4', 'match-score', 'match-dashboard', 'match-highlights'];
    // Each component calls connect() itself, as independent web components do.
    const components = ids.map((id) => {
      const conn = connect('ws://scores.test/rt', { WebSocket: server.WebSocket });
      return { conn, sub: conn.channel(id).subscribe() };
    });
    const c = await server.nextConnection();
    const joined = await Promise.all(ids.map(() => c.nextSubscribe()));
    expect(joined.map((f) => f.channel).sort()).toEqual([...ids].sort());
    expect(server.connections).toHaveLength(1);
    expect(c.summary().sort()).toEqual(['hello', ...ids.map((id) => `sub:${id}`)].sort());
    for (const { conn, sub } of components) {
      sub.unsubscribe();
      conn.close();
    }
    expect(server.openCount).toBe(0);
  });
});

describe('no leaks', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('after the last channel leaves and the linger passes: socket closed, no timer, no listener', async () => {
    const fake = new FakeServer({ autoWelcome: true, pong: false }); // a server that never answers pings
    const conn = connect('ws://leak.test/rt', { WebSocket: fake.WebSocket, shared: false, linger: 1000 });
    const subs = ['a', 'b', 'c'].map((id) => conn.channel(id).subscribe());
    const statusSub = conn.status$.subscribe();
    await vi.advanceTimersByTimeAsync(10);
    expect(fake.openCount).toBe(1);
    expect(vi.getTimerCount()).toBeGreaterThan(0); // the heartbeat ping interval and watchdog are running
    await vi.advanceTimersByTimeAsync(60_000); // pings go out; the fake never answers, so...
    // ...the heartbeat declared the link dead and reconnects: drive it back to open.
    await vi.advanceTimersByTimeAsync(1_000);
    for (const s of subs) s.unsubscribe();
    await vi.advanceTimersByTimeAsync(999);
    expect(fake.openCount).toBe(1); // still lingering
    await vi.advanceTimersByTimeAsync(2);
    expect(fake.openCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(fake.connections.map((c) => c.socket.listenerCount)).toEqual(fake.connections.map(() => 0));
    statusSub.unsubscribe();
    conn.close();
  });

  it('a subscriber that throws affects only itself', async () => {
    const reported: unknown[] = [];
    const saved = config.onUnhandledError;
    config.onUnhandledError = (err) => reported.push(err);
    try {
      const fake = new FakeServer({ autoWelcome: true });
      const conn = connect('ws://throw.test/rt', { WebSocket: fake.WebSocket, shared: false, heartbeat: false });
      const good: unknown[] = [];
      const other: unknown[] = [];
      const subs = [
        conn.channel('a').subscribe(() => {
          throw new Error('component bug');
        }),
        conn.channel('a').subscribe((v) => good.push(v)),
        conn.channel('b').subscribe((v) => other.push(v)),
      ];
      await vi.advanceTimersByTimeAsync(1);
      fake.last.publish('a', 1);
      fake.last.publish('b', 2);
      fake.last.publish('a', 3);
      await vi.advanceTimersByTimeAsync(1);
      expect(good).toEqual([1, 3]);
      expect(other).toEqual([2]);
      expect(reported).toHaveLength(2);
      subs.forEach((s) => s.unsubscribe());
      conn.close();
    } finally {
      config.onUnhandledError = saved;
    }
  });
});
