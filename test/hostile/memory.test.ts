/**
 * Hostile clients against the memory bounds (issue 14, item 1): history in
 * bytes per channel and in total, kept encoded; per-session memory in
 * bytes. Bounds are read from the server's own accounting (`metrics()`).
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '@rxmux/core/protocol';
import { until } from '../support/wait.js';
import { attacker, FEED, stage } from './stage.js';

const MiB = 1024 * 1024;


describe('hostile: memory is bounded in bytes', () => {
  it("1 MiB messages relayed into many channels (the README's relay) keep the history within historyTotalBytes, and the feed's history survives", async () => {
    // maxFrameBytes raised to 1 MiB (the default, 64 KiB, refuses these frames with 1009): what bounds them then is history in bytes.
    const s = await stage({ limits: { historyTotalBytes: 4 * MiB, historyBytes: 2 * MiB, maxFrameBytes: 1 * MiB, ratePerSecond: 2000, rateBurst: 4000 } });
    s.server.handle('player-*', { onMessage: (ctx, beat) => ctx.publish(beat) });
    const evil = await attacker(s.port);
    // [[],[],…]: a megabyte of it would cost 13 MiB of heap as parsed arrays; kept encoded it costs its length.
    const arrays = `[${Array.from({ length: 340_000 }, () => '[]').join(',')}]`; // just under 1 MiB
    let highest = 0;
    for (let i = 0; i < 20; i++) {
      evil.send(`[0,"player-${i % 5}",${arrays},${i + 1}]`);
      if (i % 2 === 1) {
        await evil.waitForFrame((f: Frame) => f.type === 'ack' && f.id === i + 1, 10_000);
        highest = Math.max(highest, s.server.metrics().historyBytes);
        await s.feed(1);
      }
    }
    expect(highest).toBeGreaterThan(2 * MiB); // the flood did fill the history
    expect(highest).toBeLessThanOrEqual(4 * MiB);
    expect(s.server.metrics().historyBytes).toBeLessThanOrEqual(4 * MiB);
    await s.nothingLost();
    // The quiet feed was not trimmed for the flood: a resume from its start replays all of it.
    const check = await attacker(s.port);
    check.send({ type: 'subscribe', channel: FEED });
    const { epoch, seq } = await check.waitFor('subscribed');
    check.send({ type: 'unsubscribe', channel: FEED });
    check.send({ type: 'subscribe', channel: FEED, since: 0, epoch });
    await check.waitFor('subscribed');
    expect(await until(() => check.queue.filter((f) => f.type === 'publication').length === seq, 5000)).toBe(true);
    expect(check.queue.some((f) => f.type === 'gap')).toBe(false);
  });

  it('a session is bounded in bytes: 40 echo requests of 60 KiB keep at most sessionBytes of remembered replies, and every answer arrives', async () => {
    const s = await stage();
    const evil = await attacker(s.port);
    const blob = 'y'.repeat(60 * 1024);
    for (let id = 1; id <= 40; id++) evil.send({ type: 'request', channel: 'echo', id, data: blob });
    for (let id = 1; id <= 40; id++) expect(await evil.waitForFrame((f: Frame) => f.type === 'response' && f.id === id, 10_000)).toMatchObject({ data: blob });
    const { largestSessionBytes, sessionBytes } = s.server.metrics();
    expect(largestSessionBytes).toBeGreaterThan(512 * 1024); // it did fill up
    expect(largestSessionBytes).toBeLessThanOrEqual(1 * MiB); // limits.sessionBytes
    expect(sessionBytes).toBeLessThanOrEqual(1 * MiB + 64 * 1024); // the legitimate sessions hold next to nothing
    // The newest replies are still remembered: a re-sent request is answered again without running twice.
    evil.send({ type: 'request', channel: 'echo', id: 40, data: 'changed' });
    expect(await evil.waitFor('response')).toMatchObject({ id: 40, data: blob });
    await s.feed(5);
    await s.nothingLost();
  });

  it('all sessions together stay within sessionTotalBytes: detached sessions full of replies are forgotten first, the attached legitimate ones are untouched', async () => {
    const s = await stage({ limits: { sessionBytes: 512 * 1024, sessionTotalBytes: 2 * MiB } });
    const blob = 'z'.repeat(60 * 1024);
    let highest = 0;
    for (let round = 0; round < 8; round++) {
      const evil = await attacker(s.port);
      for (let id = 1; id <= 10; id++) evil.send({ type: 'request', channel: 'echo', id, data: blob });
      await evil.waitForFrame((f: Frame) => f.type === 'response' && f.id === 10, 10_000);
      highest = Math.max(highest, s.server.metrics().sessionBytes);
      evil.ws.terminate(); // detached, kept for a resume, full of replies
      await until(() => s.server.metrics().connections === 3, 5000);
      await s.feed(1);
    }
    expect(highest).toBeGreaterThan(1 * MiB);
    expect(highest).toBeLessThanOrEqual(2 * MiB);
    expect(s.server.metrics().detachedSessions).toBeLessThan(8); // the oldest were forgotten for the total
    await s.nothingLost();
  });
});

