/**
 * Issue 14's memory attacks, short (a few seconds each, in process), run by
 * the same code as `npm run soak -- --attacks`: ten legitimate clients on a
 * 50 msg/s feed lose nothing and keep their connection, and the server's
 * own counters stay within the bounds its limits set.
 */
import { describe, expect, it } from 'vitest';
import { expectUnharmed, underAttack } from './attacks-stage.js';

const MiB = 1024 * 1024;

describe('hostile clients, short: memory', () => {
  it('relay-flood: 1 MiB messages relayed into many channels keep the history within historyTotalBytes (and each channel within historyBytes)', async () => {
    // Small bounds and a fast bucket, so a few seconds of flood go past them.
    const o = await underAttack('relay-flood', { target: { limits: { historyBytes: 1 * MiB, historyTotalBytes: 3 * MiB, ratePerSecond: 1000, rateBurst: 2000 } } });
    expect(o.tally.frames).toBeGreaterThan(3); // more than the total bound went in
    expect(o.peak.historyBytes).toBeGreaterThan(1 * MiB);
    expect(o.peak.historyBytes).toBeLessThanOrEqual(3 * MiB);
    expect(o.end.historyBytes).toBeLessThanOrEqual(3 * MiB);
    expectUnharmed(o);
  });

  it('nested-frames: [[],…] relayed is kept as its text (bounded in bytes), [[[…]]] is refused before parsing (TOO_DEEP)', async () => {
    const o = await underAttack('nested-frames', { target: { limits: { historyBytes: 1 * MiB, historyTotalBytes: 3 * MiB, ratePerSecond: 1000, rateBurst: 2000 } } });
    expect(o.tally['error-RXMUX_ERR_TOO_DEEP']).toBeGreaterThan(0);
    expect(o.peak.historyBytes).toBeLessThanOrEqual(3 * MiB);
    expectUnharmed(o);
  });

  it('slow-subscribers: subscribers that never read are cut as slow consumers (1008)', async () => {
    // 1 MiB frames (the attack sends what the server takes), so a few seconds of it fill the socket buffers and go past slowConsumerBytes.
    const o = await underAttack('slow-subscribers', { target: { limits: { slowConsumerBytes: 1 * MiB, maxFrameBytes: 1 * MiB, ratePerSecond: 1000, rateBurst: 2000 } } });
    expect(o.tally['non-readers']).toBeGreaterThan(0);
    expect(o.end.slowConsumers).toBeGreaterThan(0);
    expectUnharmed(o);
  });

  it('stale-poll: long-polls with a stale cursor replay the history, and the feed goes on', async () => {
    const o = await underAttack('stale-poll');
    expect(o.tally['poll-200']).toBeGreaterThan(0);
    expectUnharmed(o);
  });

  it('stale-sse: SSE streams with a stale Last-Event-ID replay the history, and the feed goes on', async () => {
    const o = await underAttack('stale-sse');
    expect(o.tally['sse-200']).toBeGreaterThan(0);
    expectUnharmed(o);
  });

  it('unread-replays: polls and SSE streams that never read their replay do not hold the others up', async () => {
    const o = await underAttack('unread-replays');
    expect(o.tally.requests).toBeGreaterThanOrEqual(8);
    expectUnharmed(o);
  });
});
