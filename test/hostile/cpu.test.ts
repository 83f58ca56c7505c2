/**
 * Hostile clients against the CPU bounds (issue 14, item 2): the rate limit
 * is charged by envelopes and bytes before anything is parsed, a frame
 * nested too deep is refused by a scan, and one connection's batch is
 * handled a slice per turn of the event loop, so the others get theirs.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, MAX_DEPTH, type Frame } from '@rxmux/core/protocol';
import { until } from '../support/wait.js';
import { attacker, stage } from './stage.js';

/** Counts `JSON.parse` calls on text of at least `min` characters (the server runs in this process). */
function parses(min: number): { readonly count: number } {
  const original = JSON.parse;
  const seen = { count: 0 };
  vi.spyOn(JSON, 'parse').mockImplementation((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
    if (typeof text === 'string' && text.length >= min) seen.count++;
    return original(text, reviver) as unknown;
  });
  return seen;
}


beforeEach(() => {
  vi.restoreAllMocks();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const isError = (f: Frame): boolean => f.type === 'error';

describe('hostile: CPU is bounded before work is done', () => {
  it('with the default maxFrameBytes (64 KiB), a 1 MiB frame closes its socket with 1009 and is never parsed; the others lose nothing', async () => {
    const s = await stage();
    const frame = `[0,"sink",${JSON.stringify('x'.repeat(1024 * 1024))}]`;
    const big = parses(64 * 1024);
    const evil = await attacker(s.port);
    evil.send(frame);
    expect((await evil.waitForClose(10_000)).code).toBe(1009);
    expect(big.count).toBe(0);
    await s.feed(10);
    await s.nothingLost();
  });

  // A server that raises maxFrameBytes to 1 MiB: what bounds a large frame's cost then is the pre-parse scan and the rate limit.
  it('a 1 MiB nested-array frame is refused by a scan, never parsed, and charged by its size until the rate limit closes the sender', async () => {
    const s = await stage({ limits: { maxFrameBytes: 1024 * 1024 } });
    const bomb = `${'['.repeat(512 * 1024)}${']'.repeat(512 * 1024 - 8)}`; // just under 1 MiB, far deeper than MAX_DEPTH
    const big = parses(512 * 1024);
    const evil = await attacker(s.port);
    for (let i = 0; i < 20; i++) evil.send(bomb);
    expect(await evil.waitFor('error')).toMatchObject({ code: ErrorCode.TooDeep });
    expect(await evil.waitForClose(10_000)).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    // 64 tokens a frame against a burst of 200: a handful were scanned, none was parsed.
    expect(evil.queue.filter((f) => f.type === 'error' && f.code === ErrorCode.TooDeep).length).toBeLessThan(8);
    expect(big.count).toBe(0);
    expect(s.server.metrics().rateLimited).toBe(1);
    await s.feed(10);
    await s.nothingLost();
    expect(MAX_DEPTH).toBe(64);
  });

  it('what the rate limit refuses is never parsed: a flood of 256 KiB frames costs 16 tokens each', async () => {
    const s = await stage({ limits: { maxFrameBytes: 1024 * 1024 } });
    const frame = `[0,"sink",${JSON.stringify('x'.repeat(256 * 1024 - 16))}]`; // 256 KiB: 16 tokens
    const big = parses(255 * 1024);
    const evil = await attacker(s.port);
    for (let i = 0; i < 60; i++) evil.send(frame);
    expect(await evil.waitForClose(10_000)).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    expect(evil.queue.find(isError)).toMatchObject({ code: ErrorCode.NoHandler }); // the ones the bucket paid for were handled
    expect(evil.queue.filter((f) => f.type === 'error' && f.code === ErrorCode.RateLimited)).toHaveLength(1);
    // The burst (200 tokens) pays for 12, the refill during the flood for a few more; the other ~45 were never parsed.
    expect(big.count).toBeGreaterThanOrEqual(12);
    expect(big.count).toBeLessThan(30);
    await s.feed(10);
    await s.nothingLost();
  });

  it("one connection's batch of 1024 fan-out messages is handled 64 per turn: a request from another client sent meanwhile is answered before the batch is done", async () => {
    const s = await stage({ limits: { ratePerSecond: 10_000, rateBurst: 10_000 } });
    let handled = 0;
    let handledWhenLegitAnswered: number | undefined;
    let legitAnswered: Promise<unknown> | undefined;
    s.server.handle('work', {
      onMessage: (ctx, data) => {
        handled++;
        ctx.publish(data); // fan-out work per frame
        if (handled === 1) {
          // The legitimate client asks now, while 1023 of the attacker's frames wait.
          legitAnswered = new Promise((resolve) => s.legit[0]?.conn.channel('probe').request('me too', { timeout: 10_000 }).subscribe({ next: resolve, error: resolve }));
        }
      },
    });
    s.server.handle('probe', {
      onRequest: (_ctx, data) => {
        handledWhenLegitAnswered ??= handled;
        return data;
      },
    });
    const evil = await attacker(s.port);
    evil.send(JSON.stringify(Array.from({ length: 1024 }, (_, i) => [0, 'work', i])));
    expect(await until(() => legitAnswered !== undefined, 10_000)).toBe(true);
    expect(await legitAnswered).toBe('me too');
    expect(await until(() => handled === 1024, 10_000)).toBe(true);
    expect(handledWhenLegitAnswered).toBeLessThan(1024);
    await s.feed(5);
    await s.nothingLost();
  });

  it('a client sending faster than 64 frames per turn under raised limits is slowed by backpressure (the socket stops being read), not cut: 400 batches of 1,000 (6 MB, more than the inbox may hold) sent back to back are all handled', async () => {
    const s = await stage({ limits: { ratePerSecond: 1e7, rateBurst: 1e7 } });
    let handled = 0;
    s.server.handle('fast', {
      onMessage: () => {
        handled++;
      },
    });
    const fast = await attacker(s.port);
    const batch = JSON.stringify(Array.from({ length: 1000 }, (_, i) => [0, 'fast', i]));
    expect(400 * batch.length).toBeGreaterThan(4 * 1024 * 1024); // over the inbox's byte cap (4 × maxFrameBytes) if it were all read at once
    for (let i = 0; i < 400; i++) fast.send(batch);
    expect(await until(() => handled === 400_000 || fast.queue.some(isError), 15_000)).toBe(true);
    expect(fast.queue.filter(isError)).toEqual([]);
    expect(handled).toBe(400_000);
    fast.send({ type: 'ping', t: 2 });
    expect(await fast.waitFor('pong')).toEqual({ type: 'pong', t: 2 }); // still open
    await s.nothingLost();
  });

  it('a batch over maxBatch is refused by the scan before parsing, as one envelope', async () => {
    const s = await stage();
    const big = parses(8 * 1024);
    const evil = await attacker(s.port);
    evil.send(JSON.stringify(Array.from({ length: 3000 }, () => [14])));
    expect(await evil.waitForFrame(isError)).toMatchObject({ code: ErrorCode.BatchTooLarge });
    evil.send({ type: 'ping', t: 1 });
    expect(await evil.waitFor('pong')).toEqual({ type: 'pong', t: 1 }); // charged one envelope and its size, not 3000
    expect(big.count).toBe(0);
    await s.nothingLost();
  });
});
