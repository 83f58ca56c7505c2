/**
 * Limits the server enforces and their defaults. The token bucket behind the
 * per-connection rate limit is the protocol's (`@rxmux/core/protocol`), the
 * one the client paces itself with.
 *
 * | limit                    | default   | outcome when exceeded                                   |
 * | ------------------------ | --------- | ------------------------------------------------------- |
 * | maxFrameBytes (≥ 8192)   | 1 MiB     | close 1009 (ws `maxPayload`)                             |
 * | maxBatch (≥ 32)          | 1024      | error frame `RXMUX_ERR_BATCH_TOO_LARGE`                 |
 * | rate (per connection; burst ≥ 32) | 100/s, burst 200 | error frame `RXMUX_ERR_RATE_LIMITED`, then close 1008; nothing of that message runs |
 * | maxChannelsPerConnection | 256       | error frame `RXMUX_ERR_TOO_MANY_CHANNELS` on that channel |
 * | slowConsumerBytes        | 4 MiB     | close 1008 'slow consumer' + `hooks.onSlowConsumer`     |
 * | historySize / historyTtlMs | 100 / 5 min | resume further back gets a `gap` frame (SSE: `reset`)  |
 * | sessionTtlMs             | 60 s      | a detached session is forgotten: the next hello starts a new one |
 * | maxDetachedSessions      | 10 000    | the oldest detached session is forgotten first          |
 * | dedupeWindow             | 10 000    | message ids remembered per session (older duplicates run again) |
 * | replyCacheSize           | 1 000     | request replies remembered per session for re-sent requests |
 */

import { ErrorCode, MIN_SERVER_LIMITS, RxmuxError } from '@rxmux/core/protocol';

/** Every limit of a server. Pass a `Partial<Limits>` to `createServer` to change some. */
export interface Limits {
  /** Largest WebSocket message accepted, in bytes (at least 8192). Larger ones close the socket with 1009. */
  readonly maxFrameBytes: number;
  /** Most envelopes accepted in one batch (at least 32). */
  readonly maxBatch: number;
  /**
   * Sustained envelopes per second one connection may send. Announced in
   * `welcome.limits` (with the burst): the rxmux client paces itself to it.
   */
  readonly ratePerSecond: number;
  /** Token bucket size: how many envelopes a connection may send in a burst (at least 32). */
  readonly rateBurst: number;
  /** Most channels one connection (or one SSE stream / poll) may subscribe to. */
  readonly maxChannelsPerConnection: number;
  /** Bytes buffered towards one client above which it is a slow consumer and is dropped. */
  readonly slowConsumerBytes: number;
  /** Publications kept per channel for resume (WebSocket `subscribe.since`, SSE `Last-Event-ID`, poll `cursor`). */
  readonly historySize: number;
  /** How long a publication stays in the history, in milliseconds (the other bound next to `historySize`). */
  readonly historyTtlMs: number;
  /** How long a session whose socket dropped is kept for a resuming `hello`, in milliseconds. */
  readonly sessionTtlMs: number;
  /** Most detached sessions kept at once; beyond it the oldest is forgotten. */
  readonly maxDetachedSessions: number;
  /** Client message ids remembered per session to drop duplicates (effectively-once delivery). */
  readonly dedupeWindow: number;
  /** Finished request replies remembered per session, answered again when a request is re-sent. */
  readonly replyCacheSize: number;
  /** Channels whose history the memory engine keeps at most (least recently published dropped first). */
  readonly historyChannels: number;
  /** How long a long-poll request is held when nothing is new, in milliseconds. */
  readonly pollTimeoutMs: number;
  /** The `retry:` value sent to EventSource clients, in milliseconds. */
  readonly sseRetryMs: number;
}

/** The default limits (frozen). */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxBatch: 1024,
  ratePerSecond: 100,
  rateBurst: 200,
  maxChannelsPerConnection: 256,
  slowConsumerBytes: 4 * 1024 * 1024,
  historySize: 100,
  historyTtlMs: 5 * 60_000,
  sessionTtlMs: 60_000,
  maxDetachedSessions: 10_000,
  dedupeWindow: 10_000,
  replyCacheSize: 1_000,
  historyChannels: 10_000,
  pollTimeoutMs: 25_000,
  sseRetryMs: 2_000,
});

/** Heartbeat timing: the server pings every `interval` ms and drops connections silent for `timeout` ms. */
export interface Heartbeat {
  /** Milliseconds between server pings (protocol ping + WebSocket ping, SSE comment). */
  readonly interval: number;
  /** Milliseconds of silence after which a connection is terminated. */
  readonly timeout: number;
}

/** The default heartbeat: ping every 30 s, terminate after 45 s of silence (frozen). */
export const DEFAULT_HEARTBEAT: Heartbeat = Object.freeze({ interval: 30_000, timeout: 45_000 });

/**
 * Merges user limits over the defaults and checks them: every one positive,
 * and `maxFrameBytes`, `maxBatch` and `rateBurst` at least the protocol's
 * `MIN_SERVER_LIMITS` (a client's hello batch must pass). API misuse throws
 * at once: an `RxmuxError` with `RXMUX_ERR_INVALID_ARGUMENT`.
 * @internal
 */
export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const limits: Limits = Object.freeze({ ...DEFAULT_LIMITS, ...partial });
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !(value > 0)) throw new RxmuxError(ErrorCode.InvalidArgument, `limits.${name} must be a positive number`);
  }
  // Every server accepts a client's hello batch (PROTOCOL.md 6.1): a client writes it before it knows these limits.
  const floors: readonly (readonly [keyof Limits, number])[] = [
    ['maxFrameBytes', MIN_SERVER_LIMITS.maxFrameBytes],
    ['maxBatch', MIN_SERVER_LIMITS.maxBatch],
    ['rateBurst', MIN_SERVER_LIMITS.burst],
  ];
  for (const [name, least] of floors) {
    if (limits[name] < least) throw new RxmuxError(ErrorCode.InvalidArgument, `limits.${name} must be at least ${least}, what every client may send before the welcome (PROTOCOL.md 6.1)`);
  }
  return limits;
}

/** Merges user heartbeat timing over the default and checks it (`RXMUX_ERR_INVALID_ARGUMENT` on misuse). @internal */
export function resolveHeartbeat(partial: Partial<Heartbeat> = {}): Heartbeat {
  const heartbeat: Heartbeat = Object.freeze({ ...DEFAULT_HEARTBEAT, ...partial });
  if (!(heartbeat.interval > 0) || !(heartbeat.timeout > heartbeat.interval)) {
    throw new RxmuxError(ErrorCode.InvalidArgument, 'heartbeat: interval must be positive and timeout greater than interval');
  }
  return heartbeat;
}

