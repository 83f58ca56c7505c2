/** Unit tests of the server's pure parts: router, limits, memory engine, pending requests, the dedupe window, the quotas, the agreements of hello limits. */
import { describe, expect, it } from 'vitest';
import { ErrorCode, RxmuxError } from '@rxmux/core/protocol';
import { DEFAULT_HEARTBEAT, DEFAULT_LIMITS, MemoryEngine, PendingRequest, type EnginePublication } from '../src/index.js';
import { Hold, Quotas } from '../src/core/quotas.js';
import { Router } from '../src/core/router.js';
import { Agreements } from '../src/core/sessions/agreements.js';
import { DedupeWindow } from '../src/core/sessions/dedupe.js';
import { resolveHeartbeat, resolveLimits } from '../src/limits.js';

/** What `f` throws (undefined when it returns). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

const misuse = { name: 'RxmuxError', code: ErrorCode.InvalidArgument };
const saying = (pattern: RegExp): Record<string, unknown> => ({ ...misuse, message: expect.stringMatching(pattern) as unknown });

describe('Router', () => {
  it('prefers exact names, then the pattern with the most literal text, and forgets removed handlers', () => {
    const router = new Router<string>();
    router.add('player-*', 'any player');
    const removeLonger = router.add('player-1*', 'player 1x');
    router.add('player-2', 'exactly 2');
    router.add('*', 'fallback');
    expect(router.resolve('player-2')).toBe('exactly 2');
    expect(router.resolve('player-13')).toBe('player 1x');
    expect(router.resolve('player-9')).toBe('any player');
    expect(router.resolve('lobby')).toBe('fallback');
    removeLonger();
    expect(router.resolve('player-13')).toBe('any player'); // the memo was invalidated
    expect(thrown(() => router.add('player-2', 'again'))).toMatchObject(saying(/already/));
    expect(thrown(() => router.add('player-*', 'again'))).toMatchObject(saying(/already/));
    expect(thrown(() => router.add('', 'empty'))).toMatchObject(misuse);
  });

  it('treats regex characters in patterns literally', () => {
    const router = new Router<number>();
    router.add('a.b*', 1);
    expect(router.resolve('a.bc')).toBe(1);
    expect(router.resolve('axbc')).toBeUndefined();
    expect(router.resolve('a.b\nz')).toBe(1);
  });

  it('stays bounded when clients invent channel names', () => {
    const router = new Router<number>();
    router.add('x-*', 1);
    for (let i = 0; i < 25_000; i++) router.resolve(`y-${i}`);
    expect(router.resolve('x-1')).toBe(1);
  });
});

describe('limits', () => {
  it('resolves limits over frozen defaults and rejects nonsense with RXMUX_ERR_INVALID_ARGUMENT', () => {
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
    expect(resolveLimits({ maxBatch: 64 })).toMatchObject({ maxBatch: 64, maxFrameBytes: 64 * 1024 });
    // What every client may send before the welcome (the hello batch) is the floor.
    expect(thrown(() => resolveLimits({ maxBatch: 8 }))).toMatchObject({ ...misuse, message: 'limits.maxBatch must be at least 32, what every client may send before the welcome (PROTOCOL.md 6.1)' });
    expect(thrown(() => resolveLimits({ maxFrameBytes: 8191 }))).toMatchObject(misuse);
    expect(thrown(() => resolveLimits({ rateBurst: 31 }))).toMatchObject(misuse);
    expect(thrown(() => resolveLimits({ rateBurst: 0 }))).toBeInstanceOf(RxmuxError);
    expect(thrown(() => resolveLimits({ rateBurst: 0 }))).toMatchObject({ ...misuse, message: 'limits.rateBurst must be a positive number' });
  });

  it('resolves the heartbeat and rejects a timeout not above the interval', () => {
    expect(resolveHeartbeat({ interval: 10 })).toEqual({ interval: 10, timeout: DEFAULT_HEARTBEAT.timeout });
    expect(thrown(() => resolveHeartbeat({ interval: 100, timeout: 100 }))).toMatchObject(misuse);
    expect(thrown(() => resolveHeartbeat({ interval: 0 }))).toMatchObject(misuse);
  });
});

describe('MemoryEngine', () => {
  it('sequences per channel, keeps a bounded history, and reports gaps', () => {
    const engine = new MemoryEngine({ historySize: 3 });
    const seen: EnginePublication[] = [];
    engine.start({ publication: (p) => seen.push(p), presence: () => undefined, reset: () => undefined, status: () => undefined, error: () => undefined });
    for (let i = 1; i <= 5; i++) engine.publish('a', i);
    engine.publish('b', 'x');
    expect(seen.map((p) => `${p.channel}${p.seq}`)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'b1']);
    expect(engine.history('a', 3, 100)).toMatchObject({ complete: true, last: 5, publications: [{ seq: 4 }, { seq: 5 }] });
    expect(engine.history('a', 1, 100)).toMatchObject({ complete: false, publications: [{ seq: 3 }, { seq: 4 }, { seq: 5 }] });
    expect(engine.history('a', 9, 100)).toMatchObject({ complete: false, last: 5, publications: [] });
    expect(engine.position('a')).toMatchObject({ last: 5 });
    expect(() => engine.history('a', 0, 0)).toThrow(/limit/); // one meaning: at most `limit` publications, at least one
    expect(engine.history('never', 0, 10)).toMatchObject({ complete: true, last: 0, publications: [] });
    const epochs = new Set(seen.map((p) => p.epoch));
    expect(epochs.size).toBe(2); // one per channel
    expect(engine.position('a').epoch).toBe(seen[0]?.epoch);
    expect(new MemoryEngine().position('a').epoch).not.toBe(seen[0]?.epoch); // a new process: a new epoch
  });

  it('bounds the history by age too (historyTtlMs)', () => {
    let now = 1_000;
    const engine = new MemoryEngine({ historySize: 10, historyTtlMs: 100, now: () => now });
    engine.publish('a', 1);
    now += 60;
    engine.publish('a', 2);
    expect(engine.history('a', 0, 10)).toMatchObject({ complete: true, publications: [{ seq: 1 }, { seq: 2 }] });
    now += 50; // seq 1 is 110 ms old
    expect(engine.history('a', 0, 10)).toMatchObject({ complete: false, publications: [{ seq: 2 }] });
    expect(engine.history('a', 1, 10)).toMatchObject({ complete: true, publications: [{ seq: 2 }] });
    now += 100; // all stale: nothing to replay, complete only for a reader that saw everything
    expect(engine.history('a', 2, 10)).toMatchObject({ complete: true, publications: [] });
    expect(engine.history('a', 1, 10)).toMatchObject({ complete: false, publications: [] });
  });

  it('has its own defaults, the numbers of DEFAULT_LIMITS, and rejects nonsense options', () => {
    const engine = new MemoryEngine();
    for (let i = 0; i <= DEFAULT_LIMITS.historySize; i++) engine.publish('a', i);
    const history = engine.history('a', 0, 10_000);
    expect(history.publications).toHaveLength(DEFAULT_LIMITS.historySize);
    expect(history.complete).toBe(false);
    expect(thrown(() => new MemoryEngine({ historySize: 0 }))).toMatchObject(misuse);
  });

  it('forgets the least recently published channel beyond historyChannels', () => {
    const engine = new MemoryEngine({ historyChannels: 2 });
    engine.publish('a', 1);
    engine.publish('b', 1);
    engine.publish('a', 2);
    const b = engine.position('b').epoch;
    engine.publish('a', 3);
    engine.publish('c', 1); // evicts b, the least recently used
    expect(engine.position('a').last).toBe(3);
    const again = engine.position('b');
    expect(again.last).toBe(0);
    expect(again.epoch).not.toBe(b); // a forgotten history comes back as a new epoch
  });
});

describe('PendingRequest', () => {
  it('creates its AbortSignal only when read, and a cancel before that still shows as aborted', () => {
    const early = new PendingRequest();
    early.abort();
    expect(early.aborted).toBe(true);
    expect(early.signal.aborted).toBe(true);
    const late = new PendingRequest();
    const signal = late.signal;
    expect(signal.aborted).toBe(false);
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    late.abort();
    late.abort();
    expect([signal.aborted, fired]).toEqual([true, 1]);
  });
});

describe('DedupeWindow', () => {
  it('answers running, then the remembered answer, and forgets the oldest id beyond its size', () => {
    const window = new DedupeWindow(2);
    expect(window.seen(1)).toBeUndefined();
    window.started(1);
    expect(window.seen(1)).toBe('running');
    window.finished(1, 'ack 1');
    expect(window.seen(1)).toEqual({ answer: 'ack 1' });
    window.finished(2, 'ack 2');
    window.finished(3, 'ack 3');
    expect([window.seen(1), window.seen(2), window.seen(3)]).toEqual([undefined, { answer: 'ack 2' }, { answer: 'ack 3' }]);
    window.started(4);
    window.stop();
    expect(window.seen(4)).toBeUndefined();
  });
});

describe('Quotas', () => {
  it('counts a hold under its address and principal until released once; a key goes with its last hold; a hold of nobody counts nothing', () => {
    const quotas = new Quotas(resolveLimits({ maxConnectionsPerAddress: 2, maxConnectionsPerPrincipal: 1 }));
    const first = quotas.take('connections', '10.0.0.1', 'string:ann');
    if (typeof first === 'string') throw new Error(`refused: ${first}`);
    expect(quotas.take('connections', '10.0.0.2', 'string:ann')).toBe('principal');
    const second = quotas.take('connections', '10.0.0.1', undefined);
    if (typeof second === 'string') throw new Error(`refused: ${second}`);
    expect(quotas.take('connections', '10.0.0.1', undefined)).toBe('address');
    expect(quotas.byAddress()).toEqual({ '10.0.0.1': { connections: 2, streams: 0, polls: 0, requests: 0 } });
    expect(quotas.principalCount).toBe(1);
    first.release();
    first.release(); // a second release gives nothing back twice
    expect(quotas.byAddress()).toEqual({ '10.0.0.1': { connections: 1, streams: 0, polls: 0, requests: 0 } });
    expect(quotas.principalCount).toBe(0);
    second.release();
    expect(quotas.byAddress()).toEqual({});
    const nobody = quotas.take('connections', undefined, undefined);
    expect(nobody).toBeInstanceOf(Hold);
    expect(quotas.byAddress()).toEqual({});
  });

  it("widens an address's hold to the principal verified later, unless the principal holds its cap; one release gives back both", () => {
    const quotas = new Quotas(resolveLimits({ maxConnectionsPerAddress: 3, maxConnectionsPerPrincipal: 1 }));
    const take = (): Hold => {
      const held = quotas.take('connections', '10.0.0.1', undefined);
      if (typeof held === 'string') throw new Error(`refused: ${held}`);
      return held;
    };
    const first = take();
    expect(first.widen('string:ann')).toBe(true);
    expect(quotas.principalCount).toBe(1);
    const second = take();
    expect(second.widen('string:ann')).toBe(false); // ann holds her cap: the hold stays the address's alone
    expect(second.widen(undefined)).toBe(true); // no principal: nothing more counted
    expect(quotas.byAddress()).toEqual({ '10.0.0.1': { connections: 2, streams: 0, polls: 0, requests: 0 } });
    first.release();
    expect(quotas.principalCount).toBe(0);
    expect(quotas.byAddress()).toEqual({ '10.0.0.1': { connections: 1, streams: 0, polls: 0, requests: 0 } });
    second.release();
    second.release();
    expect(quotas.byAddress()).toEqual({});
  });
});

describe('Agreements', () => {
  it("agrees each distinct set of hello limits once (shared objects): the client's frame size, a batch within the server's; transfers only on v2 with their keys; past the kept sets, objects of their own", () => {
    const own = resolveLimits({});
    const agreements = new Agreements(own);
    const v2 = { maxFrameBytes: 4 * own.maxFrameBytes, maxBatch: 10, chunkBytes: 65_536, window: 65_536, maxMessageBytes: 1 << 20, maxTransfers: 2 };
    const a = agreements.of(v2, true);
    expect(agreements.of({ ...v2 }, true)).toBe(a);
    expect(a.peer).toEqual({ maxFrameBytes: 4 * own.maxFrameBytes, maxBatch: 10 }); // the server's maxFrameBytes bounds what it takes, not what it writes
    expect(a.transfers?.peer).toMatchObject({ window: 65_536, maxTransfers: 2, maxFrameBytes: 4 * own.maxFrameBytes });
    expect(agreements.of(v2, false).transfers).toBeUndefined(); // a v1 hello: its transfer keys do not count
    expect(agreements.of({ maxFrameBytes: 1, maxBatch: 64 }, false).peer.maxFrameBytes).toBe(1024); // never below 1 KiB
    for (let i = 0; i < 100; i++) expect(agreements.of({ maxFrameBytes: 2048 + i, maxBatch: 64 }, false).peer).toEqual({ maxFrameBytes: 2048 + i, maxBatch: 64 });
    const late = { maxFrameBytes: 9999, maxBatch: 64 };
    expect(agreements.of(late, false)).not.toBe(agreements.of(late, false)); // the table is full: not kept
    expect(agreements.of(v2, true)).toBe(a);
  });
});
