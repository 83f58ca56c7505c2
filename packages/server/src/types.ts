/**
 * Public types of `@rxmux/server`: options, handlers, contexts, hooks, metrics.
 */
import type { Server as HttpServer } from 'node:http';
import type { Authenticate } from './credentials.js';
import type { ClientAddress } from './http/address.js';
import type { TicketStore } from './core/tickets.js';
import type { AddressInfo } from 'node:net';
import type { JsonValue, Payload } from '@rxmux/core/protocol';
import type { SessionStore } from './core/sessions/session-store.js';
import type { Engine, EngineStatus, PresenceEvent, PresenceMember } from './engines/engine.js';
import type { Heartbeat, Limits } from './limits.js';

/** What the client asks to do on a channel. */
export type ChannelAction = 'subscribe' | 'publish';

/** What every handler callback receives: the channel and who is on the other end. */
export interface ChannelContext<P = unknown> {
  /** The channel the frame concerns (the concrete name, also for pattern handlers). */
  readonly channel: string;
  /** The session id of the sending connection. */
  readonly session: string;
  /** What `authenticate` returned for this connection (`null` without `authenticate`). */
  readonly principal: P;
  /** Publishes `data` on this channel to all its subscribers (the sender included, if subscribed). Bound: `const { publish } = ctx` works. */
  readonly publish: (data: Payload) => void;
  /** Sends `data` as a publication on this channel to this connection only. Bound. */
  readonly send: (data: Payload) => void;
}

/** Context of {@link ChannelHandler.onMessage}. */
export interface MessageContext<P = unknown> extends ChannelContext<P> {
  /** The client's message id when it asked for an ack (sent once the handler has run). */
  readonly id: number | undefined;
}

/** Context of {@link ChannelHandler.onRequest}. Reply by returning a value or calling `reply`/`fail` once. */
export interface RequestContext<P = unknown> extends ChannelContext<P> {
  /** The request id chosen by the client. */
  readonly id: number;
  /** Aborted when the client cancels the request or the connection closes. */
  readonly signal: AbortSignal;
  /** Sends the response. Later calls (and the handler's return value) are ignored. Bound. */
  readonly reply: (data: JsonValue) => void;
  /** Sends a request-error with a stable code. Later calls are ignored. Bound. */
  readonly fail: (code: string, message: string) => void;
}

/** What a request handler may return: the reply, or nothing (the reply is then `null` unless `ctx.reply` was called). */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a handler body that returns nothing is typed void by TypeScript; `undefined` alone would refuse it
export type RequestResult = JsonValue | undefined | void;

/**
 * The handler of a channel or pattern. Exceptions thrown (or promises
 * rejected) by a handler are reported to `hooks.onError` and affect only that
 * frame: a message gets an error frame on its channel, a request a request-error.
 *
 * @example
 * server.handle('player-*', {
 *   onMessage: (ctx, data) => ctx.publish(data),              // relay to every subscriber
 *   onRequest: async (ctx, data) => ({ players: 2 }),          // reply
 * });
 */
export interface ChannelHandler<P = unknown> {
  /** A client message (JSON or bytes). Runs after `authorize(principal, channel, 'publish')`. */
  onMessage?(ctx: MessageContext<P>, data: Payload): void | Promise<void>;
  /** A client request. Throw an error with a string `code` to send that code as the request-error. */
  onRequest?(ctx: RequestContext<P>, data: JsonValue): RequestResult | Promise<RequestResult>;
  /** A connection subscribed to the channel (after authorization). */
  onSubscribe?(ctx: ChannelContext<P>): void;
  /** A connection left the channel (unsubscribe or disconnect). */
  onUnsubscribe?(ctx: ChannelContext<P>): void;
}

/** Information about a connection, passed to the lifecycle hooks. */
export interface ConnectionInfo<P = unknown> {
  /** Session id (WebSocket) or stream id (SSE). */
  readonly session: string;
  readonly principal: P;
  readonly transport: 'ws' | 'sse';
}

/** Structured lifecycle hooks. They must not throw; if one does, the error goes to `onError` (or is swallowed there). */
export interface ServerHooks<P = unknown> {
  /**
   * A connection opened: a WebSocket once its hello was welcomed (`info.session`
   * is the session id, a resumed one when the hello resumed it), an SSE stream
   * after its headers.
   */
  onConnect?(info: ConnectionInfo<P>): void;
  /**
   * A connection closed, with the close code and reason (SSE streams: 1000 or
   * 1001, or 1008 when dropped). For a WebSocket only after an `onConnect`; its
   * session may still be resumed by a later hello.
   */
  onClose?(info: ConnectionInfo<P>, code: number, reason: string): void;
  /** Something failed: a handler, authorize, authenticate, the engine. `info` is absent for server-wide errors. */
  onError?(error: unknown, info?: ConnectionInfo<P>): void;
  /**
   * A connection is cut as a slow consumer: it buffered more than
   * `limits.slowConsumerBytes`, flushed nothing for `limits.writeTimeoutMs`,
   * or was among the largest when the clients behind held more than
   * `limits.bufferedTotalBytes`. A WebSocket is closed with 1008 and
   * destroyed at once; an SSE stream's response is destroyed.
   */
  onSlowConsumer?(info: ConnectionInfo<P>, bufferedBytes: number): void;
  /** A connection sent more than its rate allows: its message was refused and it is being closed with 1008. */
  onRateLimited?(info: ConnectionInfo<P>): void;
  /**
   * The engine's store went away (`'down'`, with the error) or came back
   * (`'up'`). Connected clients stay connected meanwhile; publishes fail with
   * `RXMUX_ERR_ENGINE_UNAVAILABLE`; channels that may have missed publications
   * are re-synced when it is back (replay, or a gap notice).
   */
  onEngineStatus?(status: EngineStatus, error?: unknown): void;
}


/** Options of the server core (`createServerCore`), which `createServer` passes on. */
export interface CoreOptions<P> {
  /** Decides subscribe and publish per channel. A refusal errors only that channel. Default: allow all. */
  readonly authorize?: (principal: P, channel: string, action: ChannelAction) => boolean | Promise<boolean>;
  /** The engine (history, fan-out, presence). Default: a new `MemoryEngine` sized by `limits`. */
  readonly engine?: Engine<P>;
  /** Limits to change (see `DEFAULT_LIMITS`). */
  readonly limits?: Partial<Limits>;
  /** Heartbeat timing (see `DEFAULT_HEARTBEAT`). */
  readonly heartbeat?: Partial<Heartbeat>;
  /** Lifecycle hooks. */
  readonly hooks?: ServerHooks<P>;
  /**
   * Where sessions live between sockets (what a resume needs). Default: a
   * `MemorySessionStore` sized by `limits`; a shared store (`@rxmux/redis`)
   * lets a client resume on any node.
   */
  readonly sessions?: SessionStore<P>;
  /**
   * Chunked transfers (protocol v2, PROTOCOL.md 15): whether the server
   * speaks `rxmux.v2`. With it (the default) a payload larger than
   * `limits.chunkBytes` travels in pieces, interleaved with every other
   * channel's frames, under the receiver's window, both ways; a client that
   * offers only `rxmux.v1` gets whole frames as before. `false`: the server
   * selects `rxmux.v1` only: a client's binary messages are then bounded by
   * `limits.maxFrameBytes` (64 KiB by default) too, and `publish()` by one
   * whole frame (1 MiB, or `maxFrameBytes` if larger).
   */
  readonly transfers?: boolean;
  /**
   * Where the single-use tickets of the SSE and long-poll endpoints live.
   * Default: a `MemoryTicketStore`; a shared store lets a stream redeem its
   * ticket on any node.
   */
  readonly tickets?: TicketStore<P>;
}

/** Options of `createServer` other than `authenticate`. */
export interface BaseServerOptions<P> extends CoreOptions<P> {
  /**
   * Attach to this HTTP server (Express, Fastify, plain node). Otherwise the server listens on `port`.
   * rxmux takes the upgrades at `path` and the requests for `{path}/sse` and `{path}/poll`, and only
   * those, whether the app installs its own `request` / `upgrade` listeners before or after: the app
   * keeps every other request and upgrade. What no listener of the app takes (none installed at that
   * moment) gets a 404, an upgrade included, instead of hanging.
   */
  readonly server?: HttpServer;
  /** Port to listen on when no `server` is given (0: any free port). Default 0. */
  readonly port?: number;
  /** Host to listen on when no `server` is given. Default: all interfaces. */
  readonly host?: string;
  /** URL path of the WebSocket endpoint; SSE is at `{path}/sse`, long-poll at `{path}/poll`. Default `/rt`. */
  readonly path?: string;
  /**
   * Origins allowed to connect (exact `scheme://host[:port]`), for the
   * WebSocket (others: close 4403), SSE and long-poll (others: HTTP 403), and
   * the only origins CORS answers name. Default: the same origin only (an
   * `Origin` naming the request's `Host`). Requests without an Origin
   * (non-browser clients) pass either way.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Who a request comes from, for the caps per address and the throttle of
   * failed authentications. Default: the peer's IP address (IPv6 by its /64
   * prefix). Behind a reverse proxy every request comes from the proxy:
   * read the client it forwards for (e.g. the last `X-Forwarded-For` entry
   * your proxy appends), or the caps per address apply to everyone at once.
   */
  readonly clientAddress?: ClientAddress;
}

/**
 * Options of `createServer`. Without `authenticate` every request is admitted
 * and the principal is `null` (`ServerOptions<null>`, the default); with it,
 * the principal is what it returns (see {@link AuthenticatedServerOptions}).
 */
export interface ServerOptions<P = null> extends BaseServerOptions<P> {
  /** Authenticates each request (see {@link Authenticate}); only with a principal type other than `null`. */
  readonly authenticate?: [P] extends [null] ? undefined : Authenticate<P>;
}

/** Options of `createServer` with `authenticate`: the principal type `P` is what it returns. */
export interface AuthenticatedServerOptions<P> extends BaseServerOptions<P> {
  readonly authenticate: Authenticate<P>;
}

/** Counters of a server, read with `server.metrics()`. */
export interface ServerMetrics {
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Open SSE streams. */
  readonly streams: number;
  /** Long-poll requests being held. */
  readonly polls: number;
  /** Channels with at least one subscriber on this node. */
  readonly channels: number;
  /** Envelopes received / sent over WebSocket (a batch counts each envelope). */
  readonly framesIn: number;
  readonly framesOut: number;
  /** WebSocket messages received / written (`framesOut / messagesOut` is the batching ratio). */
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** WebSocket message bytes received / sent. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Connections closed for exceeding the rate limit. */
  readonly rateLimited: number;
  /** Connections, SSE streams and poll answers cut as slow consumers (too much buffered, no progress for `writeTimeoutMs`, or the server's buffers full). */
  readonly slowConsumers: number;
  /**
   * Bytes buffered towards clients right now, over every WebSocket, SSE
   * stream and poll answer with something unsent (SSE: queued live events
   * too), read when `metrics()` is called. Those behind for a while are
   * bounded together by `limits.bufferedTotalBytes`.
   */
  readonly bufferedBytes: number;
  /** WebSockets, SSE streams and poll answers with bytes buffered right now. */
  readonly backlogged: number;
  /** Requests rejected at the door: 401 (authenticate), 403 (origin). */
  readonly rejected: number;
  /** Requests refused because their address failed to authenticate too often (HTTP 429, close 1013; `limits.authFailureBurst`). */
  readonly authThrottled: number;
  /** Times an SSE replay or a poll answer waited for its address's replay budget (`limits.replayBytesPerSecond`). */
  readonly replayWaits: number;
  /** Sessions whose socket dropped on this node, kept for a resuming hello (`limits.sessionTtlMs`). */
  readonly detachedSessions: number;
  /** Whether the engine reaches its store (`'down'` until it started; see `hooks.onEngineStatus`). */
  readonly engine: EngineStatus;
  /**
   * Bytes of history the engine keeps in this process: encoded publications
   * plus 64 B each (`limits.historyTotalBytes` bounds it). 0 for an engine
   * that keeps its history elsewhere (Redis).
   */
  readonly historyBytes: number;
  /** Publications the engine keeps in this process for resume. */
  readonly historyEntries: number;
  /**
   * Bytes every session holds in this process (memory session store): the
   * dedupe windows, reply caches, answers kept for a resume, 1 KiB per
   * running request (`limits.sessionTotalBytes` bounds it). 0 for a store
   * that keeps sessions elsewhere.
   */
  readonly sessionBytes: number;
  /** Bytes of the largest session (`limits.sessionBytes` bounds it). */
  readonly largestSessionBytes: number;
  /**
   * Connections, SSE streams, long-polls and requests refused because their
   * address or principal held its cap (`limits.maxConnectionsPerAddress`, …).
   */
  readonly capped: number;
  /**
   * What each client address holds right now: WebSocket connections, SSE
   * streams, long-polls in progress, running requests (addresses holding
   * nothing are not listed).
   */
  readonly addresses: Readonly<Record<string, AddressUsage>>;
  /** Principals holding a connection, stream, poll or request right now. */
  readonly principals: number;
}

/** What one client address holds (`ServerMetrics.addresses`): WebSocket connections, SSE streams, long-polls, running requests. */
export type AddressUsage = Readonly<Record<'connections' | 'streams' | 'polls' | 'requests', number>>;

/** A running rxmux server. */
export interface RxmuxServer<P = null> {
  /**
   * Routes a channel (`'lobby'`) or a pattern (`'player-*'`, `*` = any run of
   * characters) to a handler. Exact names win over patterns, longer patterns
   * over shorter. Returns a function that removes the handler.
   */
  handle(channelOrPattern: string, handler: ChannelHandler<P>): () => void;
  /**
   * Publishes to every subscriber of `channel` (WebSocket, SSE, long-poll),
   * through the engine; resolves once the engine has taken it. Throws an
   * `RxmuxError` at once, before the publication takes a sequence number:
   * `RXMUX_ERR_INVALID_ARGUMENT` for an invalid channel id,
   * `RXMUX_ERR_INVALID_FIELD` (a `ProtocolError`) for data that cannot travel
   * (not JSON nor a `Uint8Array`, cyclic, nested too deep), and
   * `RXMUX_ERR_FRAME_TOO_BIG` for a publication larger than
   * `limits.maxMessageBytes` (with `transfers: false`, one whole frame of
   * what a client decodes by default, 1 MiB, or `limits.maxFrameBytes` if
   * larger), which clients would refuse. A publication larger than `limits.chunkBytes`
   * reaches clients that negotiated chunked transfers in pieces, interleaved
   * with every other channel; one larger than an old client's `maxFrameBytes`
   * reaches it as a `gap` `'too-big'`.
   */
  publish(channel: string, data: Payload): Promise<void>;
  /** Everyone subscribed to `channel` (on every node, as far as the engine knows). */
  presence(channel: string): Promise<readonly PresenceMember<P>[]>;
  /** Calls `listener` for every join and leave on any channel. Returns a function that stops it. */
  onPresence(listener: (event: PresenceEvent<P>) => void): () => void;
  /** A snapshot of the counters. */
  metrics(): ServerMetrics;
  /** The address the HTTP server listens on (`null` before listening). */
  address(): AddressInfo | null;
  /** The port the HTTP server listens on (0 before listening). */
  readonly port: number;
  /**
   * Resolves once the server listens (at once when attached to a listening
   * server) and its engine started (connected to its store); rejects when
   * either failed.
   */
  ready(): Promise<void>;
  /**
   * Stops accepting, closes every WebSocket with 1001 after flushing its queued
   * frames, ends SSE streams and pending polls, stops the engine, and closes
   * the HTTP server if it created it. Idempotent.
   */
  close(): Promise<void>;
}
