/** The conformance suite against the memory engine and stores (one process: one node), and the memory engine's byte bounds. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, ENTRY_OVERHEAD, MemoryEngine, MemorySessionStore, MemoryTicketStore, type EnginePublication } from '@rxmux/server';
import { until } from '../support/wait.js';
import { engineConformance, RecordingSink, type EngineNode, type User } from './suite.js';

engineConformance('memory', {
  multiNode: false,
  nodes(count, bounds) {
    const engine = new MemoryEngine<User>(bounds);
    const sink = new RecordingSink();
    engine.start(sink);
    const node: EngineNode = { engine, sink, sessions: new MemorySessionStore<User>({ ...DEFAULT_LIMITS, ...bounds }), tickets: new MemoryTicketStore<User>() };
    return Promise.resolve(Array.from({ length: count }, () => node));
  },
});

const KiB = 1024;
const seqs = (publications: readonly EnginePublication[]): number[] => publications.map((p) => p.seq);

/** A started memory engine, closed by the caller. */
function memory(options: ConstructorParameters<typeof MemoryEngine>[0]): MemoryEngine<User> {
  const engine = new MemoryEngine<User>(options);
  engine.start(new RecordingSink());
  return engine;
}

describe('memory engine: history bounded in bytes', () => {
  it('keeps publications as their encoded text: a megabyte of [[],…] costs a megabyte, and a read returns the text unparsed', () => {
    const engine = memory({});
    const nested = Array.from({ length: 349_000 }, () => []);
    const json = JSON.stringify(nested);
    engine.publish('arrays', nested);
    expect(engine.usage()).toEqual({ historyBytes: json.length + ENTRY_OVERHEAD, historyEntries: 1, historyChannels: 1 });
    const [kept] = engine.history('arrays', 0, 10).publications;
    expect(kept?.json).toBe(json); // what a replay splices into its frames
    expect((kept?.data as unknown[]).length).toBe(349_000); // parsed only when read
    engine.publish('bytes', new Uint8Array(4096));
    expect(engine.usage().historyBytes).toBe(json.length + 4096 + 2 * ENTRY_OVERHEAD);
    const text = 'é'.repeat(1000); // not ASCII: two bytes a character as V8 holds it
    engine.publish('text', text);
    expect(engine.usage().historyBytes).toBe(json.length + 4096 + (2 * (text.length + 2)) + 3 * ENTRY_OVERHEAD);
    engine.close();
  });

  it('per channel: the oldest go once the channel holds more than historyBytes; a resume from before them is incomplete', () => {
    const engine = memory({ historyBytes: 10 * KiB });
    const blob = 'x'.repeat(2 * KiB);
    for (let i = 1; i <= 20; i++) engine.publish('a', { i, blob });
    const history = engine.history('a', 0, 100);
    expect(history.publications.length).toBe(4); // 4 × (2 KiB + ~20 + 64) ≤ 10 KiB < 5 ×
    expect(seqs(history.publications)).toEqual([17, 18, 19, 20]);
    expect(history.complete).toBe(false);
    expect(engine.history('a', 16, 100).complete).toBe(true);
    expect(engine.usage().historyBytes).toBeLessThanOrEqual(10 * KiB);
    engine.close();
  });

  it('in total: beyond historyTotalBytes the largest histories are trimmed first, so a flood into some channels spares the others', () => {
    const engine = memory({ historyTotalBytes: 256 * KiB, historyBytes: 64 * KiB });
    for (let i = 1; i <= 5; i++) engine.publish('quiet', { i });
    const blob = 'x'.repeat(8 * KiB);
    for (let round = 0; round < 20; round++) for (let c = 0; c < 10; c++) engine.publish(`flood-${c}`, { round, blob });
    expect(engine.usage().historyBytes).toBeLessThanOrEqual(256 * KiB);
    expect(seqs(engine.history('quiet', 0, 100).publications)).toEqual([1, 2, 3, 4, 5]);
    expect(engine.history('quiet', 0, 100).complete).toBe(true);
    const floods = Array.from({ length: 10 }, (_, c) => engine.history(`flood-${c}`, 0, 100).publications.length);
    expect(Math.min(...floods)).toBeGreaterThan(0); // trimmed to a level, none wiped
    expect(Math.max(...floods)).toBeLessThan(20);
    engine.close();
  });

  it('frees entries older than historyTtlMs on a timer, without any read', async () => {
    const engine = memory({ historyTtlMs: 100 });
    for (let i = 0; i < 50; i++) engine.publish(`aging-${i % 5}`, 'x'.repeat(1000));
    expect(engine.usage().historyEntries).toBe(50);
    expect(await until(() => engine.usage().historyEntries === 0, 5000)).toBe(true);
    expect(engine.usage().historyBytes).toBe(0);
    expect(engine.history('aging-1', 0, 10)).toMatchObject({ last: 10, publications: [] }); // the position outlives the entries
    engine.close();
  });

  it('forgetting a whole channel (historyChannels) gives its bytes back', () => {
    const engine = memory({ historyChannels: 3 });
    for (let c = 0; c < 10; c++) engine.publish(`ch-${c}`, 'x'.repeat(100));
    expect(engine.usage()).toMatchObject({ historyEntries: 3, historyChannels: 3, historyBytes: 3 * (102 + ENTRY_OVERHEAD) });
    engine.close();
  });
});
