/**
 * The replay gate on its own: examples of each row of its table, then
 * property tests over random interleavings of publications, history reads
 * and epoch changes against the real memory engine.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CursorEntry, ResetReason } from '@rxmux/core/protocol';
import type { EnginePublication, HistoryResult } from '../src/engines/engine.js';
import { MemoryEngine } from '../src/engines/memory.js';
import { OutgoingPublication } from '../src/core/hub.js';
import { readHistory, ReplayGate, type ChannelReader, type GateOutput, type ReplayPolicy } from '../src/core/replay-gate.js';

type Written =
  | { readonly kind: 'joined'; readonly epoch: string; readonly newest: number }
  | { readonly kind: 'reset'; readonly epoch: string; readonly seq: number; readonly reason: ResetReason; readonly since: number }
  | { readonly kind: 'pub'; readonly epoch: string; readonly seq: number };

/** An output that records what the gate writes. */
function recorder(): { output: GateOutput; written: Written[] } {
  const written: Written[] = [];
  return {
    written,
    output: {
      joined: (_channel, epoch, newest) => void written.push({ kind: 'joined', epoch, newest }),
      reset: (_channel, epoch, seq, reason, since) => void written.push({ kind: 'reset', epoch, seq, reason, since }),
      publication: (out) => void written.push({ kind: 'pub', epoch: out.publication.epoch, seq: out.publication.seq }),
      failed: (_channel, error) => {
        throw error;
      },
    },
  };
}

/** The gate's reader over a memory engine (the examples below settle by hand and never read). */
const readerOf = (engine: MemoryEngine, limit = 100): ChannelReader => ({
  position: (channel) => engine.position(channel),
  history: (channel, since, n) => engine.history(channel, since, n),
  limit,
});
const unused = readerOf(new MemoryEngine());

const pub = (epoch: string, seq: number): OutgoingPublication => new OutgoingPublication({ channel: 'c', epoch, seq, data: seq });
const history = (epoch: string, last: number, from: number, complete = true): HistoryResult => ({
  epoch,
  last,
  complete,
  publications: Array.from({ length: Math.max(0, last - from + 1) }, (_, i): EnginePublication => ({ channel: 'c', epoch, seq: from + i, data: from + i })),
});
const pubs = (written: readonly Written[]): string[] => written.flatMap((w) => (w.kind === 'pub' ? [`${w.epoch}:${w.seq}`] : []));

describe('ReplayGate, one row at a time', () => {
  it('a join without a position starts at the newest seq: held publications up to it are dropped, later ones written', () => {
    const { output, written } = recorder();
    const gate = new ReplayGate(output, 'newest', unused);
    gate.hold('c');
    for (const seq of [4, 5, 6]) gate.deliver(pub('E', seq));
    expect(written).toEqual([]);
    gate.settle('c', history('E', 5, 6));
    gate.release('c');
    gate.deliver(pub('E', 7));
    expect(written).toEqual([{ kind: 'joined', epoch: 'E', newest: 5 }, { kind: 'pub', epoch: 'E', seq: 6 }, { kind: 'pub', epoch: 'E', seq: 7 }]);
  });

  it('a covered resume replays (since, newest], then held publications without the overlap', () => {
    const { output, written } = recorder();
    const gate = new ReplayGate(output, 'newest', unused);
    gate.hold('c', { seq: 2, epoch: 'E' });
    for (const seq of [4, 5, 6]) gate.deliver(pub('E', seq));
    gate.settle('c', history('E', 5, 3));
    gate.release('c');
    expect(written[0]).toEqual({ kind: 'joined', epoch: 'E', newest: 5 });
    expect(pubs(written)).toEqual(['E:3', 'E:4', 'E:5', 'E:6']);
    expect(gate.positions.get('c')).toMatchObject({ epoch: 'E', seq: 6 });
  });

  it("a history gap: 'newest' resets to the newest seq, 'remaining' to just before what is kept and replays it", () => {
    for (const [policy, expected] of [
      ['newest', { reset: 10, pubs: [] }],
      ['remaining', { reset: 7, pubs: ['E:8', 'E:9', 'E:10'] }],
    ] as const) {
      const { output, written } = recorder();
      const gate = new ReplayGate(output, policy, unused);
      gate.hold('c', { seq: 2, epoch: 'E' });
      gate.settle('c', history('E', 10, 8, false));
      gate.release('c');
      expect(written[0]).toEqual({ kind: 'reset', epoch: 'E', seq: expected.reset, reason: 'history', since: 2 });
      expect(written[1]).toEqual({ kind: 'joined', epoch: 'E', newest: 10 });
      expect(pubs(written)).toEqual(expected.pubs);
    }
  });

  it("a cursor of another epoch (or none) gets a reset 'epoch'; the 'remaining' policy reads the new epoch from its start", async () => {
    const engine = new MemoryEngine();
    for (let i = 1; i <= 3; i++) engine.publish('c', i);
    const { epoch } = engine.position('c');
    for (const since of [{ seq: 2, epoch: 'old' }, { seq: 2, epoch: undefined }] satisfies CursorEntry[]) {
      const { output, written } = recorder();
      const gate = new ReplayGate(output, 'remaining', readerOf(engine), new Map([['c', since]]));
      gate.hold('c');
      gate.settle('c', await readHistory(readerOf(engine), 'c', since, 'remaining'));
      gate.release('c');
      expect(written[0]).toEqual({ kind: 'reset', epoch, seq: 0, reason: 'epoch', since: 2 });
      expect(pubs(written)).toEqual([`${epoch}:1`, `${epoch}:2`, `${epoch}:3`]);
    }
  });

  it("a live publication of a new epoch is announced by a reset 'epoch' first", () => {
    const { output, written } = recorder();
    const gate = new ReplayGate(output, 'newest', unused);
    gate.hold('c');
    gate.settle('c', history('E', 3, 4));
    gate.release('c');
    gate.deliver(pub('E', 4));
    gate.deliver(pub('F', 1));
    expect(written.slice(2)).toEqual([{ kind: 'reset', epoch: 'F', seq: 0, reason: 'epoch', since: 4 }, { kind: 'pub', epoch: 'F', seq: 1 }]);
  });

  it("held publications of an epoch the history answer already replaced are dropped, not written after it", () => {
    const { output, written } = recorder();
    const gate = new ReplayGate(output, 'newest', unused);
    gate.hold('c', { seq: 3, epoch: 'E' });
    for (const out of [pub('E', 4), pub('F', 1), pub('F', 2)]) gate.deliver(out);
    gate.settle('c', history('F', 2, 1));
    gate.release('c');
    expect(written).toEqual([{ kind: 'reset', epoch: 'F', seq: 2, reason: 'epoch', since: 3 }, { kind: 'joined', epoch: 'F', newest: 2 }]);
  });

  it('keeps the cursor order it was created with and forgets dropped channels', () => {
    const gate = new ReplayGate(recorder().output, 'remaining', unused, new Map([['b', { seq: 1, epoch: 'E' }], ['a', { seq: 2, epoch: 'E' }]]));
    gate.hold('c');
    expect([...gate.positions.keys()]).toEqual(['b', 'a', 'c']);
    expect(gate.drop('a')).toBe(true);
    expect(gate.has('a')).toBe(false);
  });

  it('keeps an epoch and a seq per joined channel and nothing else; what a join holds exists only until its release, a drop or a clear', () => {
    const { output, written } = recorder();
    const gate = new ReplayGate(output, 'newest', unused);
    gate.hold('c');
    gate.hold('d');
    expect([gate.holding('c'), gate.holding('d')]).toEqual([true, true]);
    gate.deliver(pub('E', 4)); // held
    gate.settle('c', history('E', 3, 4));
    gate.release('c');
    expect(gate.holding('c')).toBe(false);
    expect(gate.positions.get('c')).toStrictEqual({ epoch: 'E', seq: 4 }); // no holding left behind, not even an empty field
    gate.deliver(pub('E', 5));
    expect(gate.positions.get('c')).toStrictEqual({ epoch: 'E', seq: 5 });
    expect(written).toEqual([
      { kind: 'joined', epoch: 'E', newest: 3 },
      { kind: 'pub', epoch: 'E', seq: 4 },
      { kind: 'pub', epoch: 'E', seq: 5 },
    ]);
    expect(gate.drop('d')).toBe(true); // left while still held: its holding goes with it
    expect(gate.holding('d')).toBe(false);
    gate.settle('d', history('E', 5, 6));
    gate.release('d');
    expect(gate.has('d')).toBe(false);
    gate.hold('e');
    expect(gate.clear()).toEqual(['c', 'e']);
    expect([gate.positions.size, gate.holding('e')]).toEqual([0, false]);
    gate.deliver(pub('E', 6));
    expect(written).toHaveLength(3);
  });

  it('a subscriber joining and leaving many channels holds only the ones it is in', () => {
    const gate = new ReplayGate(recorder().output, 'newest', unused);
    for (let i = 0; i < 1_000; i++) {
      gate.hold(`ch-${i}`);
      if (i % 2 === 0) gate.drop(`ch-${i}`);
      else {
        gate.settle(`ch-${i}`, { epoch: 'E', last: 0, complete: true, publications: [] });
        gate.release(`ch-${i}`);
      }
      if (i % 10 === 9) for (let j = i - 9; j <= i; j++) gate.drop(`ch-${j}`);
    }
    expect(gate.positions.size).toBe(0);
    expect(Array.from({ length: 1_000 }, (_, i) => gate.holding(`ch-${i}`)).some(Boolean)).toBe(false);
  });
});

// ---- properties -----------------------------------------------------------------

/** What happens on the engine: a publication on the channel, or one elsewhere that evicts its history (a new epoch). */
type Op = 'publish' | 'evict';

interface Scenario {
  readonly historySize: number;
  readonly policy: ReplayPolicy;
  readonly before: readonly Op[];
  readonly since: { readonly kind: 'none' } | { readonly kind: 'back'; readonly back: number } | { readonly kind: 'stale'; readonly seq: number };
  /** While the history read is in flight; the read takes its snapshot after `readAt` of them. */
  readonly during: readonly Op[];
  readonly readAt: number;
  readonly after: readonly Op[];
}

const op = fc.constantFrom<Op>('publish', 'publish', 'publish', 'evict');
const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    historySize: fc.integer({ min: 1, max: 6 }),
    policy: fc.constantFrom<ReplayPolicy>('newest', 'remaining'),
    before: fc.array(op, { maxLength: 12 }),
    since: fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.record({ kind: fc.constant('back' as const), back: fc.nat({ max: 10 }) }),
      fc.record({ kind: fc.constant('stale' as const), seq: fc.nat({ max: 10 }) }),
    ),
    during: fc.array(op, { maxLength: 10 }),
    readAt: fc.nat({ max: 10 }),
    after: fc.array(op, { maxLength: 8 }),
  })
  .map((s) => ({ ...s, readAt: Math.min(s.readAt, s.during.length) }));

interface Run {
  readonly written: readonly Written[];
  readonly since: CursorEntry | undefined;
  readonly snapshot: HistoryResult;
  readonly final: { readonly epoch: string; readonly last: number };
  readonly published: readonly EnginePublication[];
  readonly evictedAfterSince: boolean;
}

/** Plays a scenario against the memory engine (one channel `c`; `x` evicts it: historyChannels 1) and a gate. */
function play(s: Scenario, trailing: boolean): Run {
  const engine = new MemoryEngine({ historySize: s.historySize, historyChannels: 1 });
  const { output, written } = recorder();
  const gate = new ReplayGate(output, s.policy, readerOf(engine, s.historySize));
  const published: EnginePublication[] = [];
  let subscribed = false;
  engine.start({
    publication: (p) => {
      if (p.channel !== 'c') return;
      published.push(p);
      if (subscribed) gate.deliver(new OutgoingPublication(p)); // the hub delivers from the hold on
    },
    presence: () => undefined,
    reset: () => undefined,
    status: () => undefined,
    error: () => undefined,
  });
  let x = 0;
  const apply = (o: Op): void => {
    engine.publish(o === 'publish' ? 'c' : 'x', o === 'publish' ? published.length : x++);
  };
  s.before.forEach(apply);
  const now = engine.position('c');
  const since: CursorEntry | undefined =
    s.since.kind === 'none' ? undefined : s.since.kind === 'back' ? { epoch: now.epoch, seq: Math.max(0, now.last - s.since.back) } : { epoch: 'stale', seq: s.since.seq };
  subscribed = true;
  gate.hold('c', since);
  let snapshot: HistoryResult | undefined;
  const read = (): void => void (snapshot = readHistory(readerOf(engine, s.historySize), 'c', since, s.policy) as HistoryResult);
  s.during.forEach((o, i) => {
    if (i === s.readAt) read();
    apply(o);
  });
  if (snapshot === undefined) read();
  gate.settle('c', snapshot as HistoryResult);
  gate.release('c');
  s.after.forEach(apply);
  if (trailing) apply('publish');
  const final = engine.position('c');
  return {
    written,
    since,
    snapshot: snapshot as HistoryResult,
    final: { epoch: final.epoch, last: final.last },
    published,
    evictedAfterSince: [...s.during, ...s.after].includes('evict'),
  };
}

/**
 * Reads the output as a client does: a position (epoch, seq) moved by
 * `joined` (a join without one), `reset` and publications. Returns the
 * position at the end; throws on anything a client could not trust.
 */
function follow(run: Run): { epoch: string; seq: number } | undefined {
  let at = run.since === undefined ? undefined : { epoch: run.since.epoch ?? '', seq: run.since.seq };
  const seen = new Set<string>();
  for (const w of run.written) {
    if (w.kind === 'joined') {
      at ??= { epoch: w.epoch, seq: w.newest };
    } else if (w.kind === 'reset') {
      // every epoch change is announced as one, and only an epoch change is
      expect(w.reason === 'epoch').toBe(at?.epoch !== w.epoch);
      at = { epoch: w.epoch, seq: w.seq };
    } else {
      const key = `${w.epoch}:${w.seq}`;
      expect(seen.has(key), `${key} written twice`).toBe(false);
      seen.add(key);
      // in seq order with nothing skipped silently: right after the position, in its epoch
      expect({ epoch: w.epoch, seq: w.seq }).toEqual({ epoch: at?.epoch, seq: (at?.seq ?? Number.NaN) + 1 });
      at = { epoch: w.epoch, seq: w.seq };
    }
  }
  return at;
}

describe('ReplayGate properties (random interleavings of live publications, history reads and epoch changes)', () => {
  it('never doubles, never reorders, announces every epoch change, and ends where the engine is', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const run = play(s, true);
        expect(follow(run)).toEqual({ epoch: run.final.epoch, seq: run.final.last });
      }),
      { numRuns: 2000 },
    );
  });

  it('without an epoch change, a resume the history covers writes exactly what the client missed, and no reset', () => {
    fc.assert(
      fc.property(scenario, fc.boolean(), (s, trailing) => {
        const run = play(s, trailing);
        const { since, snapshot } = run;
        fc.pre(since !== undefined && !run.evictedAfterSince && since.epoch === snapshot.epoch && snapshot.complete);
        expect(run.written.filter((w) => w.kind === 'reset')).toEqual([]);
        const missed = run.published.filter((p) => p.epoch === since.epoch && p.seq > since.seq);
        expect(pubs(run.written)).toEqual(missed.map((p) => `${p.epoch}:${p.seq}`));
        expect(follow(run)).toEqual({ epoch: run.final.epoch, seq: run.final.last });
      }),
      { numRuns: 1000 },
    );
  });

  it('a join without a position writes every publication after its newest seq, once and in order', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const run = play({ ...s, since: { kind: 'none' } }, false);
        fc.pre(!run.evictedAfterSince);
        const joined = run.written[0];
        expect(joined?.kind).toBe('joined');
        const newest = joined?.kind === 'joined' ? joined.newest : -1;
        const expected = run.published.filter((p) => p.epoch === run.final.epoch && p.seq > newest);
        expect(pubs(run.written)).toEqual(expected.map((p) => `${p.epoch}:${p.seq}`));
      }),
      { numRuns: 500 },
    );
  });
});
