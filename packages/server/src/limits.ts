/**
 * Limits the server enforces and their defaults, chosen to fit a 1 GiB
 * process: history (256 MiB), sessions (128 MiB) and outgoing buffers
 * (128 MiB) are bounded in bytes in total as well as per channel, session
 * or connection, and the caps per client address and per principal bound
 * what one client can take of them. The token bucket behind the
 * per-connection rate limit is the protocol's (`@rxmux/core/protocol`), the
 * one the client paces itself with.
 *
 * Each field says what exceeding it costs; the one table of every limit,
 * default and outcome (close code, HTTP status, error frame) is in the
 * package README ("Default limits and close codes").
 */

import { DEFAULT_TRANSFER_LIMITS, ErrorCode, MIN_SERVER_LIMITS, RxmuxError } from '@rxmux/core/protocol';

/** Every limit of a server. Pass a `Partial<Limits>` to `createServer` to change some. */
export interface Limits {
  /**
   * Largest WebSocket message accepted, in bytes (at least 8192), and the
   * largest JSON message a client may send (a JSON message is parsed whole,
   * chunked or not). Larger frames close the socket with 1009. The default,
   * 64 KiB (Centrifugo's default too), bounds one `JSON.parse` to a few
   * milliseconds: at 1 MiB one hostile frame of nested arrays blocks the
   * event loop for 11–53 ms and multiplies every other client's p99
   * (RELIABILITY.md). Binary messages go up to `maxMessageBytes` in pieces
   * (v2). It bounds what the server parses, not what it writes: its batches
   * and publications follow the `maxFrameBytes` the client announced.
   */
  readonly maxFrameBytes: number;
  /** Most envelopes accepted in one batch (at least 32). */
  readonly maxBatch: number;
  /**
   * Tokens per second of one connection's bucket. A WebSocket message costs
   * one token per envelope, or one per `bytesPerToken` (16 KiB by default) of
   * its size if that is more (`messageCost` of `@rxmux/core/protocol`),
   * charged before it is parsed. Announced in `welcome.limits` (with the
   * burst): the rxmux client paces itself to it.
   */
  readonly ratePerSecond: number;
  /** Token bucket size: how many tokens a connection may spend in a burst (at least 32). */
  readonly rateBurst: number;
  /** Most channels one connection (or one SSE stream / poll) may subscribe to. */
  readonly maxChannelsPerConnection: number;
  /**
   * Most channels with subscribers on this server at once. A subscribe (or
   * an SSE / poll channel) that would add one more is refused with
   * `RXMUX_ERR_TOO_MANY_CHANNELS`.
   */
  readonly maxChannels: number;
  /**
   * Most WebSocket connections from one client address at once (see
   * `clientAddress`). Beyond: the socket is closed with 1013 (try again later).
   */
  readonly maxConnectionsPerAddress: number;
  /** Most WebSocket connections of one principal at once (with `authenticate`). Beyond: close 1013 after the hello. */
  readonly maxConnectionsPerPrincipal: number;
  /** Most SSE streams from one client address at once. Beyond: HTTP 429 `RXMUX_ERR_TOO_MANY_CONNECTIONS`. */
  readonly maxStreamsPerAddress: number;
  /** Most SSE streams of one principal at once. Beyond: HTTP 429. */
  readonly maxStreamsPerPrincipal: number;
  /** Most long-polls from one client address in progress at once. Beyond: HTTP 429. */
  readonly maxPollsPerAddress: number;
  /** Most long-polls of one principal in progress at once. Beyond: HTTP 429. */
  readonly maxPollsPerPrincipal: number;
  /** Most requests running at once for one client address. Beyond: `request-error` `RXMUX_ERR_TOO_MANY_REQUESTS`. */
  readonly maxRequestsPerAddress: number;
  /** Most requests running at once for one principal. Beyond: `request-error` `RXMUX_ERR_TOO_MANY_REQUESTS`. */
  readonly maxRequestsPerPrincipal: number;
  /**
   * Failed authentications one client address may make in a burst (a 401, a
   * refused hello or refresh, an unknown ticket). Beyond, the address is
   * refused before `authenticate` runs (HTTP 429, WebSocket close 1013)
   * until its bucket refills at `authFailureRate`.
   */
  readonly authFailureBurst: number;
  /** Failed authentications per second an address earns back (see `authFailureBurst`). */
  readonly authFailureRate: number;
  /**
   * Bytes buffered towards one client (a WebSocket's `bufferedAmount`; an SSE
   * stream's unsent bytes and queued live events; a poll answer) above which
   * it is a slow consumer and is cut: WebSocket close 1008 `slow consumer`
   * with its buffers let go at once, an SSE stream or poll answer destroyed.
   */
  readonly slowConsumerBytes: number;
  /**
   * Bytes that the clients still behind at a look (every ¼ of
   * `writeTimeoutMs`, at most 250 ms) may hold buffered together. Beyond it the
   * largest are cut first (WebSocket close 1008 `server buffers full`).
   */
  readonly bufferedTotalBytes: number;
  /**
   * How long a client with bytes buffered may flush nothing at all before it
   * is cut (WebSocket close 1008 `write timeout`; SSE, poll: destroyed).
   */
  readonly writeTimeoutMs: number;
  /**
   * Bytes of events in one long-poll answer, at least one event. What does
   * not fit is left for the next poll, which the client makes at once from
   * the answer's cursor.
   */
  readonly pollMaxBytes: number;
  /**
   * Bytes of history replayed per second to one client address, over its SSE
   * streams and long-poll answers together (a burst of as much at once): a
   * stale cursor costs the server what it sends, however fast the client
   * reads. A replay beyond it waits for the budget (live events are not
   * counted). Behind a proxy, see `clientAddress`.
   */
  readonly replayBytesPerSecond: number;
  /** Publications kept per channel for resume (WebSocket `subscribe.since`, SSE `Last-Event-ID`, poll `cursor`). */
  readonly historySize: number;
  /**
   * Bytes of history kept per channel by the memory engine: publications as
   * their encoded text or bytes, plus 64 B each. The oldest go first.
   */
  readonly historyBytes: number;
  /**
   * Bytes of history kept by the memory engine over every channel. Beyond
   * it the largest histories are trimmed first (oldest entries first) to 7/8
   * of it.
   */
  readonly historyTotalBytes: number;
  /** How long a publication stays in the history, in milliseconds (the memory engine frees older ones on a timer). */
  readonly historyTtlMs: number;
  /** How long a session whose socket dropped is kept for a resuming `hello`, in milliseconds. */
  readonly sessionTtlMs: number;
  /** Most detached sessions kept at once; beyond it the oldest is forgotten. */
  readonly maxDetachedSessions: number;
  /** Client message ids remembered per session to drop duplicates (effectively-once delivery). */
  readonly dedupeWindow: number;
  /** Finished request replies remembered per session, answered again when a request is re-sent. */
  readonly replyCacheSize: number;
  /**
   * Bytes one session may hold in memory (memory session store): its
   * remembered answers (dedupe window, reply cache), the answers kept for a
   * resume, 1 KiB per running request. Beyond it the oldest answers go
   * (replies first): a re-sent duplicate of a forgotten one runs again.
   */
  readonly sessionBytes: number;
  /**
   * Bytes all sessions may hold together (memory session store). Beyond it
   * detached sessions are forgotten first (oldest first; their resume starts
   * a new session), then a growing session gives back its oldest answers.
   */
  readonly sessionTotalBytes: number;
  /** Channels whose history the memory engine keeps at most (least recently published dropped first). */
  readonly historyChannels: number;
  /** How long a long-poll request is held when nothing is new, in milliseconds. */
  readonly pollTimeoutMs: number;
  /** The `retry:` value sent to EventSource clients, in milliseconds. */
  readonly sseRetryMs: number;
  /**
   * Chunked transfers (protocol v2, PROTOCOL.md 15): the largest piece,
   * both ways. A payload larger than a piece (a binary or JSON message from
   * a client, a publication) travels in pieces, interleaved with every other
   * channel's frames. Announced in `welcome.limits`.
   */
  readonly chunkBytes: number;
  /** Bytes of transfer data a client may have sent and not yet seen credited (v2): what sits in the network ahead of its small frames. */
  readonly transferWindow: number;
  /**
   * Largest message a client may send in chunks, and largest publication
   * `publish()` takes (v2; a client without chunked transfers still gets at
   * most the `maxFrameBytes` it announced, larger publications reach it as a
   * `gap` `'too-big'`; with `transfers: false`, `publish()` takes one whole
   * frame of 1 MiB, or `maxFrameBytes` if larger).
   */
  readonly maxMessageBytes: number;
  /** Most channels with an unfinished transfer from one client at once (v2): with `maxMessageBytes`, what reassembly may hold per connection. */
  readonly maxTransfers: number;
  /** A client transfer with no piece for this long is refused, and a client that takes no piece for this long is a slow consumer (v2), in milliseconds. */
  readonly transferTimeoutMs: number;
}

/** The default limits (frozen). */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxFrameBytes: 64 * 1024,
  maxBatch: 1024,
  ratePerSecond: 100,
  rateBurst: 200,
  maxChannelsPerConnection: 256,
  maxChannels: 100_000,
  maxConnectionsPerAddress: 64,
  maxConnectionsPerPrincipal: 32,
  maxStreamsPerAddress: 32,
  maxStreamsPerPrincipal: 16,
  maxPollsPerAddress: 32,
  maxPollsPerPrincipal: 16,
  maxRequestsPerAddress: 256,
  maxRequestsPerPrincipal: 128,
  authFailureBurst: 20,
  authFailureRate: 0.1,
  slowConsumerBytes: 4 * 1024 * 1024,
  bufferedTotalBytes: 128 * 1024 * 1024,
  writeTimeoutMs: 10_000,
  pollMaxBytes: 1024 * 1024,
  replayBytesPerSecond: 8 * 1024 * 1024,
  historySize: 100,
  historyBytes: 8 * 1024 * 1024,
  historyTotalBytes: 256 * 1024 * 1024,
  historyTtlMs: 5 * 60_000,
  sessionTtlMs: 60_000,
  maxDetachedSessions: 10_000,
  dedupeWindow: 10_000,
  replyCacheSize: 1_000,
  sessionBytes: 1024 * 1024,
  sessionTotalBytes: 128 * 1024 * 1024,
  historyChannels: 10_000,
  pollTimeoutMs: 25_000,
  sseRetryMs: 2_000,
  chunkBytes: DEFAULT_TRANSFER_LIMITS.chunkBytes,
  transferWindow: DEFAULT_TRANSFER_LIMITS.window,
  maxMessageBytes: DEFAULT_TRANSFER_LIMITS.maxMessageBytes,
  maxTransfers: DEFAULT_TRANSFER_LIMITS.maxTransfers,
  transferTimeoutMs: 30_000,
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

