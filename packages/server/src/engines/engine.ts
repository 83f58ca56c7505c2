/**
 * The engine behind a server: where publications are sequenced, stored for
 * resume, fanned out, and where presence lives.
 *
 * One process uses {@link MemoryEngine}. Many nodes use an engine over a shared
 * store; the interface is shaped for Redis:
 *
 * ```
 *  node A                          Redis                         node B
 *  publish(ch, data) ── XADD ch ─▶ stream ch (history, seq)
 *                    ── PUBLISH ─▶ pub/sub ch ── message ─▶ sink.publication(p)
 *  subscribe(ch)     ── SUBSCRIBE (first local subscriber only)
 *  join/leave        ── HSET/HDEL presence:ch + PUBLISH ─▶ sink.presence(e)
 * ```
 *
 * Methods may answer synchronously or with a promise (`Awaitable`), so the
 * memory engine costs no extra turn of the event loop.
 */
import type { Payload } from '@rxmux/core/protocol';

/** A value or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

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

/** Where an engine delivers what it receives: set once by the server with {@link Engine.start}. */
export interface EngineSink {
  /** A publication arrived for a channel this node subscribed to (or any channel: the server filters). */
  publication(publication: EnginePublication): void;
  /** Somebody joined or left a channel (on any node). */
  presence(event: PresenceEvent): void;
}

/** What {@link Engine.history} returns. */
export interface HistoryResult {
  /** Publications after the requested seq, oldest first. */
  readonly publications: readonly EnginePublication[];
  /** False when the history no longer reaches back to the requested seq (a gap: the reader must reset). */
  readonly complete: boolean;
  /** The newest seq of the channel (0 when nothing was ever published). */
  readonly last: number;
  /** The channel's history epoch (created by this call when the channel had no history yet). */
  readonly epoch: string;
}

/**
 * The contract between the server and its engine. Implementations must deliver
 * a channel's publications to the sink in seq order.
 *
 * Resume relies on two ordering rules, which the server's replay gate
 * (`core/replay-gate.ts`) builds on: it subscribes *before* it reads the
 * history, holds live publications until the replay is written, and drops
 * those the replay already carried by (epoch, seq).
 *
 * 1. A publication that is not in what `history()` returns still reaches the
 *    sink afterwards (nothing falls between the read and live delivery).
 * 2. The sink receives a channel's publications in the order they were
 *    sequenced, across epochs too, and every publication sequenced before a
 *    history answer's snapshot reaches the sink before that answer resolves.
 *    So a live publication of another epoch after an answer belongs to a newer
 *    history, never an older one (an engine whose pub/sub may lag behind its
 *    history reads must wait for it before answering).
 */
export interface Engine {
  /** Starts the engine; from now on it delivers to `sink`. Called once by the server. */
  start(sink: EngineSink): Awaitable<void>;
  /** Sequences, stores (bounded) and fans out one publication. */
  publish(channel: string, data: Payload): Awaitable<EnginePublication>;
  /** This node has its first local subscriber on `channel`. */
  subscribe(channel: string): Awaitable<void>;
  /** This node has no local subscriber left on `channel`. */
  unsubscribe(channel: string): Awaitable<void>;
  /**
   * Publications of `channel` with seq greater than `since` (in the current
   * epoch), at most `limit` of them, bounded by the engine's history size and age.
   */
  history(channel: string, since: number, limit: number): Awaitable<HistoryResult>;
  /** Records `member` as subscribed to `channel` and announces it. */
  join(channel: string, member: PresenceMember): Awaitable<void>;
  /** Removes the member with this session id from `channel` and announces it. */
  leave(channel: string, session: string): Awaitable<void>;
  /** Everyone subscribed to `channel`, on every node. */
  presence(channel: string): Awaitable<readonly PresenceMember[]>;
  /** Releases connections and timers. */
  close(): Awaitable<void>;
}
