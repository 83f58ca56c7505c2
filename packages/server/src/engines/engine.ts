/**
 * The engine behind a server (interface version 2): where publications are
 * sequenced, stored for resume and fanned out, and where presence lives.
 *
 * One process uses {@link MemoryEngine}. Many nodes use an engine over a shared
 * store (`@rxmux/redis`); the interface is shaped for it:
 *
 * ```
 *  node A                          Redis                          node B
 *  publish(ch, data) ── XADD ch ─▶ stream ch (history, seq)
 *                    ── PUBLISH ─▶ pub/sub ch ── message ─▶ sink.publication(p)
 *  subscribe(ch)     ── SUBSCRIBE (first local subscriber only; resolves once it took effect)
 *  position / history ── read ───▶ (epoch, newest seq) / the publications after a seq
 *  join/leave        ── HSET/HDEL presence ch (owned by this node's lease) ─▶ sink.presence(e)
 *  connection lost and back ──────────────────────────────────▶ sink.reset(channels), sink.status(…)
 * ```
 *
 * Every method may answer synchronously or with a promise (`Awaitable`): the
 * memory engine answers at once and costs no extra turn of the event loop.
 *
 * ## The ordering rules (what the server's replay gate builds on)
 *
 * The server joins a subscriber to a channel in this order: `subscribe` (the
 * first local subscriber only) and **awaits** it, then reads the channel
 * (`position` for a fresh join, `history` for a resume), holding live
 * publications meanwhile; it writes the read's answer, then what was held, and
 * drops what it wrote already by (epoch, seq). So an engine must keep:
 *
 * 1. **Subscribe, then read.** Once `subscribe(channel)` resolved, every
 *    publication of `channel` sequenced afterwards reaches the sink (until
 *    `unsubscribe`). A publication missing from a later read's answer is
 *    therefore delivered live: nothing falls between the read and live delivery.
 * 2. **In order.** The sink receives a channel's publications in the order
 *    they were sequenced, across epochs too, and every publication sequenced
 *    before a read's snapshot reaches the sink before that read resolves
 *    (an engine whose pub/sub may lag behind its reads must wait for it, e.g.
 *    by reading over the subscriber connection). So a live publication of
 *    another epoch after an answer belongs to a newer history, never an older one.
 * 3. **Say when it may have missed something.** When publications may not
 *    have reached the sink (a dropped pub/sub connection, a restarted store),
 *    the engine calls `sink.reset(channels)` once the subscriptions took
 *    effect again (rule 1 holds anew). The server re-reads those channels from
 *    each subscriber's position: what the history still holds is replayed,
 *    the rest becomes a gap notice (`gap` frames, SSE / poll `reset` events).
 *    Never silent loss.
 *
 * The conformance suite in `test/engines/` checks every rule against every
 * engine, including a deliberately slow one.
 */
import { ErrorCode, type Payload } from '@rxmux/core/protocol';

/** A value or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/**
 * The error code of an engine call that failed because the engine's store is
 * unreachable (e.g. `publish()` while Redis is down): the publication was not
 * taken, or its fate is unknown; it was never silently dropped. The same
 * value as the core's `ErrorCode.EngineUnavailable`.
 */
export const ENGINE_UNAVAILABLE = ErrorCode.EngineUnavailable;

/** A publication as the engine sequenced it. */
export interface EnginePublication {
  readonly channel: string;
  /**
   * The channel's history epoch: a random id chosen when the engine created
   * the history. Sequence numbers only compare within one epoch; a new epoch
   * (a restarted memory engine, a forgotten history) means earlier positions
   * cannot be resumed.
   */
  readonly epoch: string;
  /** Position in the channel's history epoch, starting at 1, increasing by 1 per publication. */
  readonly seq: number;
  readonly data: Payload;
  /**
   * `data` as JSON text, when the engine has it so (a history kept encoded,
   * a message read from a store): the server splices it into every frame as
   * it is, never encoding the data again. Absent for bytes, and when the
   * engine holds only the value.
   */
  readonly json?: string | undefined;
}

/** What an engine holds in this process (`server.metrics()`), for engines that keep history here. */
export interface EngineUsage {
  /** Bytes of the publications kept for resume (their encoded text or bytes, plus a fixed overhead per entry). */
  readonly historyBytes: number;
  /** Publications kept for resume. */
  readonly historyEntries: number;
  /** Channels with a history. */
  readonly historyChannels: number;
}

/** Where a channel stands: its history epoch and newest seq. */
export interface ChannelPosition {
  /**
   * The channel's history epoch. Reading the position of a channel that has
   * no history yet fixes the epoch its first publication will have, so a
   * subscriber told this epoch sees no false epoch change.
   */
  readonly epoch: string;
  /** The newest seq of the channel in this epoch (0 when nothing was published in it). */
  readonly last: number;
}

/** What {@link Engine.history} returns. */
export interface HistoryResult extends ChannelPosition {
  /** Publications after the requested seq, oldest first: the newest `limit` of them at most. */
  readonly publications: readonly EnginePublication[];
  /**
   * Whether `publications` are exactly every publication after the requested
   * seq (since+1 … last). False when the history no longer reaches back that far
   * (count or age bound, or cut by `limit`), or the requested seq is ahead of `last`.
   */
  readonly complete: boolean;
}

/** Who is subscribed to a channel: one WebSocket session or SSE stream. */
export interface PresenceMember<P = unknown> {
  /** Session id (WebSocket) or stream id (SSE). */
  readonly session: string;
  /** What `authenticate` returned for this client (`null` without `authenticate`). */
  readonly principal: P;
  /** How the member is connected. */
  readonly transport: 'ws' | 'sse';
}

/** A member joined or left a channel. */
export interface PresenceEvent<P = unknown> {
  readonly type: 'join' | 'leave';
  readonly channel: string;
  readonly member: PresenceMember<P>;
}

/**
 * Whether the engine can reach its store: `'up'`, or `'down'` (publishes
 * fail with {@link ENGINE_UNAVAILABLE}, connected clients stay connected).
 */
export type EngineStatus = 'up' | 'down';

/** Where an engine delivers what it receives: set once by the server with {@link Engine.start}. */
export interface EngineSink<P = unknown> {
  /** A publication of a channel this node subscribed to (an engine may deliver others: the server ignores them). */
  publication(publication: EnginePublication): void;
  /** Somebody joined or left a channel (on any node); a leave also when a member's node lease expired. */
  presence(event: PresenceEvent<P>): void;
  /**
   * Publications of these channels may not have reached the sink (ordering
   * rule 3). Called once the engine's subscriptions to them took effect again.
   */
  reset(channels: readonly string[]): void;
  /** The engine's status changed (`error`: why it went down). */
  status(status: EngineStatus, error?: unknown): void;
  /** A failure in the background (a write, a lease renewal, an undecodable message): reported to `hooks.onError`. */
  error(error: unknown): void;
}

/**
 * The contract between the server and its engine, generic over the principal
 * type `P` the server's members carry. Implementations must keep the ordering
 * rules above.
 */
export interface Engine<P = unknown> {
  /**
   * Starts the engine (connects to its store); from now on it delivers to
   * `sink`. Called once by the server, whose `ready()` waits for it.
   */
  start(sink: EngineSink<P>): Awaitable<void>;
  /**
   * Sequences, stores (bounded) and fans out one publication. Rejects (or
   * throws) when it cannot take it, e.g. `ENGINE_UNAVAILABLE`: never a silent loss.
   */
  publish(channel: string, data: Payload): Awaitable<EnginePublication>;
  /**
   * This node has its first local subscriber on `channel`. Resolves once the
   * subscription took effect (ordering rule 1).
   */
  subscribe(channel: string): Awaitable<void>;
  /** This node has no local subscriber left on `channel`. */
  unsubscribe(channel: string): Awaitable<void>;
  /** The channel's epoch and newest seq: what a fresh join needs (no publications are read). */
  position(channel: string): Awaitable<ChannelPosition>;
  /**
   * The publications of `channel` with seq greater than `since` (`since` ≥ 0,
   * in the current epoch), oldest first: the newest `limit` of them (`limit`
   * ≥ 1) within the engine's history bounds (count and age).
   */
  history(channel: string, since: number, limit: number): Awaitable<HistoryResult>;
  /**
   * Records `member` as subscribed to `channel` and announces it. The entry
   * belongs to this node: it goes with `leave`, or when this node's lease
   * expires (a crashed node's members disappear within the lease).
   */
  join(channel: string, member: PresenceMember<P>): Awaitable<void>;
  /** Removes the member with this session id from `channel` and announces it. */
  leave(channel: string, session: string): Awaitable<void>;
  /** Everyone subscribed to `channel`, on every node whose lease is alive. */
  presence(channel: string): Awaitable<readonly PresenceMember<P>[]>;
  /** Releases connections and timers (this node's presence entries are removed). */
  close(): Awaitable<void>;
  /** What the engine holds in this process's memory, when it keeps anything there (the memory engine does; Redis keeps it in Redis). */
  usage?(): EngineUsage;
}
