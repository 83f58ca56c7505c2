/**
 * The replay gate: how a subscriber joins a channel's live stream at a
 * position without losing, doubling or reordering anything. Written once for
 * the WebSocket, SSE and long-poll paths: the gate decides what is written,
 * each path only formats it (WebSocket: `subscribed`, `gap`, publications;
 * SSE / poll: `reset` and publication events, the cursor).
 *
 * ```
 *   hold(channel, since) ─────────────────────────────▶ live publications are held
 *        │  (the hub delivers to this subscriber once the engine subscription took effect:
 *        │   the caller awaits that before reading)                │
 *        ▼                                                          │
 *   read: position (fresh join) or history after since (resume)    │
 *        ▼                                                          │
 *   settle(channel, answer)   a channel without a position starts at the newest seq
 *        ▼                                                          ▼
 *   release(channel) ──▶ [reset]  joined  replay…  held…  ──▶ then live, one by one
 *                        every publication passes one check: (epoch, seq) after the
 *                        position → written; same epoch, not after → dropped;
 *                        another epoch → `reset` 'epoch' first, then written
 *
 *   resync(channel)  the engine may have missed publications (its `reset`): the same
 *                    hold / read / settle / release from where the subscriber stands,
 *                    without `joined`; what the history holds is replayed, the rest is a reset
 * ```
 *
 * Why the read comes after the engine subscription took effect (the engine's
 * ordering rule 1): a publication not in the read's answer still reaches the
 * sink afterwards, so dropping by (epoch, seq) makes the seam exact. The
 * engine also delivers in the order it sequenced, and everything sequenced
 * before the read's snapshot before the answer (rule 2), so held publications
 * of another epoch that come before the last held one of the answer's epoch
 * were sequenced before the read: the answer already replaced that epoch, and
 * they are dropped instead of sending the subscriber back to it.
 */
import type { CursorEntry, ResetReason } from '@rxmux/core/protocol';
import type { Awaitable, ChannelPosition, EnginePublication, HistoryResult } from '../engines/engine.js';
import { after, chain } from './awaitable.js';
import { OutgoingPublication } from './hub.js';

/**
 * What a resume that the history cannot cover gets.
 *
 * - `'newest'` (WebSocket, PROTOCOL.md 6.3): a `gap` to the newest seq, then
 *   live: the client is told and refetches what it needs.
 * - `'remaining'` (SSE / long-poll, 14.6): a `reset` to just before the oldest
 *   publication the history still holds, then those publications (for another
 *   epoch: the new epoch from its start).
 */
export type ReplayPolicy = 'newest' | 'remaining';

/** What the gate writes, formatted by each path. Implementations must not throw: report and go on. */
export interface GateOutput {
  /**
   * The channel's history answered: its epoch and newest seq (WebSocket:
   * `subscribed`). Comes after the `reset`, if any, before the replay.
   */
  joined(channel: string, epoch: string, newest: number): void;
  /**
   * Publications after `since` up to `seq` will not come (`'history'`: the
   * history no longer reaches back; `'epoch'`: another history, announced
   * before its first publication). The position is already (epoch, seq).
   */
  reset(channel: string, epoch: string, seq: number, reason: ResetReason, since: number): void;
  /**
   * A publication to write; the position already includes it. `replayed`:
   * it comes from the history read (the rest are live, held or not).
   */
  publication(publication: OutgoingPublication, replayed: boolean): void;
  /**
   * A re-read after an engine reset failed: the channel is still held and
   * cannot go on silently (WebSocket: the channel fails; SSE: the stream
   * ends; a poll answers), so the client resumes from its position later.
   */
  failed(channel: string, error: unknown): void;
}

/** How the gate reads a channel: the engine's position and history (see `Engine`). */
export interface ChannelReader {
  position(channel: string): Awaitable<ChannelPosition>;
  history(channel: string, since: number, limit: number): Awaitable<HistoryResult>;
  /** Most publications a replay reads (`limits.historySize`). */
  readonly limit: number;
}

/**
 * Where a subscriber stands in one channel: the epoch and seq of the last
 * publication (or reset) written. Shaped like a {@link CursorEntry}, so the
 * gate's positions are the SSE / poll cursor. Two fields and nothing else:
 * one per (subscriber, channel), 40 B; what a join holds meanwhile is a
 * {@link Holding} of its own, kept only while the history is read.
 */
export interface GatePosition {
  epoch: string | undefined;
  seq: number;
}

/** A channel being joined: its history is being read, live publications wait. */
interface Holding {
  /** The position the subscriber asked to resume from (`undefined`: start from now). */
  readonly since: CursorEntry | undefined;
  readonly held: OutgoingPublication[];
  history: HistoryResult | undefined;
  /** A re-read after an engine reset: nothing new is joined (no `joined`). */
  readonly resync: boolean;
  /** Another engine reset came while held: re-read once released. */
  again: boolean;
}

/**
 * Reads what a join needs: the position alone for a fresh join (nothing to
 * replay), the publications after `since` otherwise; with the `'remaining'`
 * policy a cursor of another epoch reads the current epoch from its start,
 * since its seq means nothing there.
 */
export function readHistory(reader: ChannelReader, channel: string, since: CursorEntry | undefined, policy: ReplayPolicy): Awaitable<HistoryResult> {
  if (since === undefined) return chain(reader.position(channel), (position) => ({ ...position, publications: [], complete: true }));
  const first = reader.history(channel, since.seq, reader.limit);
  if (policy === 'newest') return first;
  return chain(first, (history) => (history.epoch === since.epoch ? history : reader.history(channel, 0, reader.limit)));
}

/**
 * The gate of one subscriber (a socket, an SSE stream, a poll), over all its
 * channels: per channel a {@link GatePosition}.
 *
 * @example
 * const gate = new ReplayGate(output, 'newest', { position: (c) => engine.position(c), history: (c, s, n) => engine.history(c, s, n), limit: 100 });
 * gate.hold(channel, { seq: 41, epoch });
 * await hub.add(channel, gate);                // live publications reach gate.deliver() from now on
 * gate.settle(channel, await gate.read(channel));
 * gate.release(channel);                       // output: joined, the replay, then what was held
 */
export class ReplayGate {
  /** Positions by channel, in insertion order (the SSE / poll cursor, encoded with `encodeCursor`). */
  readonly positions: Map<string, GatePosition>;
  /**
   * The channels being joined (or re-read), by channel: made by the first
   * hold, let go with the last release, so an idle subscriber has none.
   */
  private holds: Map<string, Holding> | undefined;

  constructor(
    private readonly output: GateOutput,
    private readonly policy: ReplayPolicy,
    private readonly reader: ChannelReader,
    /** A cursor to resume from (SSE `Last-Event-ID`, poll `cursor`); its order is kept. */
    cursor?: ReadonlyMap<string, CursorEntry>,
  ) {
    this.positions = new Map();
    for (const [channel, { seq, epoch }] of cursor ?? []) this.positions.set(channel, { epoch, seq });
  }

  /** Whether the gate tracks `channel` (held or live). */
  has(channel: string): boolean {
    return this.positions.has(channel);
  }

  /**
   * Starts holding `channel`'s live publications until {@link release}.
   * `since` defaults to the channel's position in the cursor the gate was
   * created with; without one the channel starts from now.
   */
  hold(channel: string, since: CursorEntry | undefined = this.positions.get(channel)): void {
    this.start(channel, since, false);
  }

  /** Whether `channel` is held: its history is being read (or its release has not come yet). */
  holding(channel: string): boolean {
    return this.holds?.has(channel) === true;
  }

  /** Reads what `channel` needs from where it is held (see {@link readHistory}). */
  read(channel: string): Awaitable<HistoryResult> {
    return readHistory(this.reader, channel, this.holds?.get(channel)?.since, this.policy);
  }

  /**
   * The engine may have missed publications of `channel` (its `reset`):
   * re-reads it from the current position and writes what the subscriber
   * missed (or a reset), then goes on live. A channel still held re-reads
   * once released; an unknown one is ignored. A failed read goes to
   * `output.failed`, the channel still held.
   */
  resync(channel: string): void {
    const position = this.positions.get(channel);
    if (position === undefined) return;
    const hold = this.holds?.get(channel);
    if (hold !== undefined) {
      hold.again = true;
      return;
    }
    const since = position.epoch === undefined ? undefined : { seq: position.seq, epoch: position.epoch };
    const held = this.start(channel, since, true);
    let answer: Awaitable<HistoryResult>;
    try {
      answer = this.read(channel);
    } catch (error) {
      this.output.failed(channel, error);
      return;
    }
    void after(
      answer,
      (history) => {
        if (this.positions.get(channel) !== held) return; // left (or joined anew) meanwhile
        this.settle(channel, history);
        this.release(channel);
      },
      (error: unknown) => {
        if (this.positions.get(channel) === held) this.output.failed(channel, error);
      },
    );
  }

  private start(channel: string, since: CursorEntry | undefined, resync: boolean): GatePosition {
    const from = since === undefined ? undefined : { seq: since.seq, epoch: since.epoch };
    const position: GatePosition = { epoch: from?.epoch, seq: from?.seq ?? 0 };
    this.positions.set(channel, position);
    (this.holds ??= new Map()).set(channel, { since: from, held: [], history: undefined, resync, again: false });
    return position;
  }

  /**
   * The history read for `channel` answered. A channel joined without a
   * position takes the newest seq now, so a cursor written before the release
   * (SSE `ready`) already says where the stream starts. Writes nothing.
   */
  settle(channel: string, history: HistoryResult): void {
    const position = this.positions.get(channel);
    const hold = this.holds?.get(channel);
    if (position === undefined || hold === undefined) return;
    hold.history = history;
    if (hold.since === undefined) {
      position.epoch = history.epoch;
      position.seq = history.last;
    }
  }

  /**
   * Writes what the settled history decides, then the held publications, and
   * lets live publications through from now on:
   *
   * | the join | written, in order |
   * | --- | --- |
   * | no position | joined |
   * | `since` in the history's epoch, and the history reaches back to it | joined, (since, newest] |
   * | otherwise, policy `'newest'` | reset to newest, joined |
   * | otherwise, policy `'remaining'` | reset to before the oldest kept, joined, what is kept |
   */
  release(channel: string): void {
    const position = this.positions.get(channel);
    const hold = this.holds?.get(channel);
    if (position === undefined || hold?.history === undefined) return;
    this.unhold(channel);
    const { since, history, held } = hold;
    const { epoch, last, publications } = history;
    let replay: readonly EnginePublication[] = [];
    if (since !== undefined) {
      position.epoch = epoch; // the position is since.seq (set by hold) unless a reset moves it
      const covered = since.epoch === epoch && history.complete && since.seq <= last;
      if (covered || this.policy === 'remaining') replay = publications;
      if (!covered) {
        const oldest = this.policy === 'remaining' ? publications[0] : undefined;
        position.seq = oldest === undefined ? last : oldest.seq - 1;
        this.output.reset(channel, epoch, position.seq, since.epoch === epoch ? 'history' : 'epoch', since.seq);
      }
    }
    if (!hold.resync) this.output.joined(channel, epoch, last);
    // Through the same object as live delivery: one encoding, one size rule per path.
    for (const publication of replay) this.pass(channel, position, new OutgoingPublication(publication), true);
    // Held publications of another epoch before the last held one of the answer's epoch are older than the answer.
    let newest = -1;
    for (let i = held.length - 1; i >= 0 && newest === -1; i--) if (held[i]?.publication.epoch === epoch) newest = i;
    held.forEach((out, i) => {
      if (i < newest && out.publication.epoch !== epoch) return;
      this.pass(channel, position, out, false);
    });
    if (hold.again) this.resync(channel);
  }

  /** A live publication (the hub calls this): held, dropped, or written after the position. */
  deliver(out: OutgoingPublication): void {
    const position = this.positions.get(out.channel);
    if (position === undefined) return;
    const hold = this.holds?.get(out.channel);
    if (hold !== undefined) hold.held.push(out);
    else this.pass(out.channel, position, out, false);
  }

  /** Forgets `channel` (left, or refused after all). */
  drop(channel: string): boolean {
    this.unhold(channel);
    return this.positions.delete(channel);
  }

  /** Forgets every channel (the subscriber is gone); returns them. */
  clear(): string[] {
    const channels = [...this.positions.keys()];
    this.positions.clear();
    this.holds = undefined;
    return channels;
  }

  /** `channel` is no longer held; the holds go with the last one. */
  private unhold(channel: string): void {
    if (this.holds?.delete(channel) === true && this.holds.size === 0) this.holds = undefined;
  }

  /** The one check every publication passes, live or replayed. */
  private pass(channel: string, position: GatePosition, out: OutgoingPublication, replayed: boolean): void {
    const { epoch, seq } = out.publication;
    if (epoch === position.epoch) {
      if (seq <= position.seq) return; // written already (replay and live overlap)
    } else {
      // The engine started another history under a running subscription: say so before going on.
      const since = position.seq;
      position.epoch = epoch;
      position.seq = seq - 1;
      this.output.reset(channel, epoch, seq - 1, 'epoch', since);
    }
    position.seq = seq;
    this.output.publication(out, replayed);
  }
}
