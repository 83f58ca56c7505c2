/**
 * The replay gate: how a subscriber joins a channel's live stream at a
 * position without losing, doubling or reordering anything. Written once for
 * the WebSocket, SSE and long-poll paths: the gate decides what is written,
 * each path only formats it (WebSocket: `subscribed`, `gap`, publications;
 * SSE / poll: `reset` and publication events, the cursor).
 *
 * ```
 *   hold(channel, since) ─────────────────────────────▶ live publications are held
 *        │  (the hub already delivers to this subscriber)      │
 *        ▼                                                      │
 *   history read (may be asynchronous)                          │
 *        ▼                                                      │
 *   settle(channel, history)   a channel without a position starts at the newest seq
 *        ▼                                                      ▼
 *   release(channel) ──▶ [reset]  joined  replay…  held…  ──▶ then live, one by one
 *                        every publication passes one check: (epoch, seq) after the
 *                        position → written; same epoch, not after → dropped;
 *                        another epoch → `reset` 'epoch' first, then written
 * ```
 *
 * Why the hub delivers before the history is read: the engine promises that a
 * publication not in a history answer still reaches the sink afterwards, so
 * subscribing first and dropping by (epoch, seq) is what makes the seam exact.
 * The engine also delivers in the order it sequenced, so held publications of
 * another epoch that come before the last held one of the history's epoch were
 * sequenced before the history was read: the answer already replaced that
 * epoch, and they are dropped instead of sending the subscriber back to it.
 */
import type { CursorEntry, ResetReason } from '@rxmux/core/protocol';
import type { Awaitable, EnginePublication, HistoryResult } from '../engines/engine.js';
import { chain } from './awaitable.js';
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
  /** A publication to write; the position already includes it. */
  publication(publication: OutgoingPublication): void;
}

/**
 * Where a subscriber stands in one channel: the epoch and seq of the last
 * publication (or reset) written. Shaped like a {@link CursorEntry}, so the
 * gate's positions are the SSE / poll cursor.
 */
export interface GatePosition {
  epoch: string | undefined;
  seq: number;
  /** Present while the history is being read: what arrived live meanwhile. */
  hold: Holding | undefined;
}

interface Holding {
  /** The position the subscriber asked to resume from (`undefined`: start from now). */
  readonly since: CursorEntry | undefined;
  readonly held: OutgoingPublication[];
  history: HistoryResult | undefined;
}

/**
 * Reads the history a join needs: nothing to replay for a fresh join (only
 * the epoch and newest seq), the publications after `since` otherwise; with
 * the `'remaining'` policy a cursor of another epoch reads the current epoch
 * from its start, since its seq means nothing there.
 */
export function readHistory(
  read: (since: number, limit: number) => Awaitable<HistoryResult>,
  since: CursorEntry | undefined,
  policy: ReplayPolicy,
  limit: number,
): Awaitable<HistoryResult> {
  const first = read(since?.seq ?? 0, since === undefined ? 0 : limit);
  if (since === undefined || policy === 'newest') return first;
  return chain(first, (history) => (history.epoch === since.epoch ? history : read(0, limit)));
}

/**
 * The gate of one subscriber (a socket, an SSE stream, a poll), over all its
 * channels: per channel a {@link GatePosition}.
 *
 * @example
 * const gate = new ReplayGate(output, 'newest');
 * hub.add(channel, gate);                      // live publications reach gate.deliver() from now on
 * gate.hold(channel, { seq: 41, epoch });
 * gate.settle(channel, await gate.read(channel, (since, limit) => engine.history(channel, since, limit), 100));
 * gate.release(channel);                       // output: joined, the replay, then what was held
 */
export class ReplayGate {
  /** Positions by channel, in insertion order (the SSE / poll cursor, encoded with `encodeCursor`). */
  readonly positions: Map<string, GatePosition>;

  constructor(
    private readonly output: GateOutput,
    private readonly policy: ReplayPolicy,
    /** A cursor to resume from (SSE `Last-Event-ID`, poll `cursor`); its order is kept. */
    cursor?: ReadonlyMap<string, CursorEntry>,
  ) {
    this.positions = new Map();
    for (const [channel, { seq, epoch }] of cursor ?? []) this.positions.set(channel, { seq, epoch, hold: undefined });
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
    const from = since === undefined ? undefined : { seq: since.seq, epoch: since.epoch };
    this.positions.set(channel, { epoch: from?.epoch, seq: from?.seq ?? 0, hold: { since: from, held: [], history: undefined } });
  }

  /**
   * Reads the history `channel` needs from where it is held (see
   * {@link readHistory}): `history` is the engine's, for this channel.
   */
  read(channel: string, history: (since: number, limit: number) => Awaitable<HistoryResult>, limit: number): Awaitable<HistoryResult> {
    return readHistory(history, this.positions.get(channel)?.hold?.since, this.policy, limit);
  }

  /**
   * The history read for `channel` answered. A channel joined without a
   * position takes the newest seq now, so a cursor written before the release
   * (SSE `ready`) already says where the stream starts. Writes nothing.
   */
  settle(channel: string, history: HistoryResult): void {
    const position = this.positions.get(channel);
    if (position?.hold === undefined) return;
    position.hold.history = history;
    if (position.hold.since === undefined) {
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
    const hold = position?.hold;
    if (position === undefined || hold?.history === undefined) return;
    position.hold = undefined;
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
    this.output.joined(channel, epoch, last);
    // Through the same object as live delivery: one encoding, one size rule per path.
    for (const publication of replay) this.pass(channel, position, new OutgoingPublication(publication));
    // Held publications of another epoch before the last held one of the answer's epoch are older than the answer.
    let newest = -1;
    for (let i = held.length - 1; i >= 0 && newest === -1; i--) if (held[i]?.publication.epoch === epoch) newest = i;
    held.forEach((out, i) => {
      if (i < newest && out.publication.epoch !== epoch) return;
      this.pass(channel, position, out);
    });
  }

  /** A live publication (the hub calls this): held, dropped, or written after the position. */
  deliver(out: OutgoingPublication): void {
    const position = this.positions.get(out.channel);
    if (position === undefined) return;
    if (position.hold !== undefined) position.hold.held.push(out);
    else this.pass(out.channel, position, out);
  }

  /** Forgets `channel` (left, or refused after all). */
  drop(channel: string): boolean {
    return this.positions.delete(channel);
  }

  /** The one check every publication passes, live or replayed. */
  private pass(channel: string, position: GatePosition, out: OutgoingPublication): void {
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
    this.output.publication(out);
  }
}
