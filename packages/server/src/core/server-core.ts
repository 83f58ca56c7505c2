/**
 * The server core: everything rxmux does over an open WebSocket, with no
 * `ws` and no HTTP in it (as graphql-ws's `makeServer`). A transport adapter
 * hands it sockets that are already open and authenticated; the HTTP door
 * hands it SSE and long-poll streams through {@link ServerCore.streams}.
 *
 * ```
 *  adapter ── opened(transport, principal) ──▶ SocketSession ──▶ message / pong / closed
 *  http ───── streams (hub, history, presence, hooks) ──▶ SSE streams, polls
 *  publish() ─▶ engine (seq, history, fan-out) ─▶ hub ─▶ sockets / streams / polls
 *                 sessions ◀── hello ──  SessionStore (what a resume needs)
 * ```
 *
 * @example
 * const core = createServerCore({ limits: { maxBatch: 64 } });
 * core.handle('echo', { onRequest: (_ctx, data) => data });
 * const socket = core.opened(transport, principal);   // transport: send, close, terminate, ping, bufferedAmount
 * socket.message('[2,1]');                              // hello → welcome through transport.send
 * socket.closed(1000, '');
 */
import { randomBytes } from 'node:crypto';
import { bytesPerToken, channelIdProblem, CloseCode, dataProblem, DEFAULT_DECODE_LIMITS, encodeBinary, encodeText, ErrorCode, ProtocolError, RxmuxError, type BucketRate, type Payload, type ServerLimits } from '@rxmux/core/protocol';
import type { Engine, EngineStatus, PresenceEvent, PresenceMember } from '../engines/engine.js';
import { MemoryEngine } from '../engines/memory.js';
import { resolveHeartbeat, resolveLimits, type Heartbeat, type Limits } from '../limits.js';
import type { ChannelAction, ChannelHandler, CoreOptions, ServerMetrics } from '../types.js';
import { reported } from './awaitable.js';
import { Hooks } from './hooks.js';
import { Hub } from './hub.js';
import { Router } from './router.js';
import { ReceiptClock } from './sessions/receipts.js';
import type { Session } from './sessions/session.js';
import { MemorySessionStore, type SessionStore } from './sessions/session-store.js';
import type { AppHost } from './sessions/handler-socket.js';
import { SocketSession, type SocketHost } from './sessions/socket-session.js';
import type { SocketAuth, SocketHandle, Transport } from './transport.js';
import type { Verified, Verify } from '../credentials.js';
import { PendingSocket, type PendingHost } from './sessions/pending-socket.js';
import { MemoryTicketStore, TICKET_TTL_MS, type TicketStore } from './tickets.js';
import type { ChannelHost } from './sessions/subscriptions.js';
import { Outbox, type Traffic } from './sessions/writer.js';
import { principalKey, Quotas, type Hold } from './quotas.js';
import { Agreements } from './sessions/agreements.js';
import { Backlog } from './backlog.js';
import { IGNORED, RefusedSocket } from './handles.js';
import type { Endable, StreamHost } from './stream-host.js';

/** How long `close()` waits for clients to finish the close handshake before terminating them. */
const CLOSE_GRACE_MS = 3_000;

/** Where the core stands: accepting, shutting down, or shut down. */
export type CoreState = 'running' | 'closing' | 'closed';

/** The core's counters: `ServerMetrics` without what the HTTP door counts. */
export type CoreMetrics = Omit<ServerMetrics, 'rejected' | 'authThrottled' | 'replayWaits'> & {
  /** WebSockets closed with 4401 because the hello's credentials were refused. */
  readonly refusedCredentials: number;
};

/** The rxmux server without `ws` and HTTP. */
export interface ServerCore<P> {
  readonly limits: Limits;
  /** Whether the core speaks protocol v2 (chunked transfers): an adapter selects `rxmux.v2` when the client offers it. */
  readonly transfers: boolean;
  readonly heartbeat: Heartbeat;
  readonly state: CoreState;
  /** Resolves once the engine started (connected to its store); rejects when it could not. */
  readonly started: Promise<void>;
  /**
   * A WebSocket speaking `rxmux.v1` or `rxmux.v2` (its `transport.protocol`)
   * is open: the core takes it over, with the principal the adapter knows or
   * a `verify` for the hello's token (`SocketAuth`). The adapter feeds the
   * returned handle.
   */
  opened(transport: Transport, auth: SocketAuth<P>, now?: number): SocketHandle;
  /** See `RxmuxServer.handle`. */
  handle(channelOrPattern: string, handler: ChannelHandler<P>): () => void;
  /** See `RxmuxServer.publish`. */
  publish(channel: string, data: Payload): Promise<void>;
  presence(channel: string): Promise<readonly PresenceMember<P>[]>;
  onPresence(listener: (event: PresenceEvent<P>) => void): () => void;
  metrics(): CoreMetrics;
  /** For the SSE and long-poll endpoints. */
  readonly streams: StreamHost<P>;
  /** Closes every socket with 1001 after flushing, ends streams, waits (3 s at most), then ends sessions and stops the engine. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates the server core.
 *
 * @example
 * // an adapter for another WebSocket server
 * const core = createServerCore<User>({ authorize: (user, channel) => channel.startsWith(user.team) });
 * server.on('open', (ws) => {
 *   const socket = core.opened(toTransport(ws), ws.user);
 *   ws.on('message', (data) => socket.message(data));
 *   ws.on('close', (code, reason) => socket.closed(code, reason));
 * });
 */
export function createServerCore<P>(options: CoreOptions<P> = {}): ServerCore<P> {
  return new Core(options);
}

class Core<P> implements ServerCore<P>, SocketHost<P> {
  state: CoreState = 'running';
  readonly limits: Limits;
  readonly heartbeat: Heartbeat;
  readonly rate: BucketRate;
  readonly perToken: number;
  readonly announced: ServerLimits;
  readonly transfers: boolean;
  readonly heartbeatInterval: number;
  /** When the core was made: its sockets keep their times relative to it (small integers, no heap numbers). */
  readonly epoch = Date.now();
  readonly store: SessionStore<P>;
  readonly tickets: TicketStore<P>;
  readonly outbox: Outbox;
  readonly backlog: Backlog;
  readonly receipts = new ReceiptClock();
  readonly app: AppHost<P>;
  readonly channels: ChannelHost<P>;
  readonly streams: StreamHost<P>;
  readonly started: Promise<void>;
  private readonly engine: Engine<P>;
  /** The engine's last reported status ('down' until it started). */
  private engineStatus: EngineStatus = 'down';
  private readonly hub: Hub;
  private readonly hooks: Hooks<P>;
  private readonly router = new Router<ChannelHandler<P>>();
  /** Open sockets, with the hold each takes of its address's and principal's connections. */
  private readonly sockets = new Map<SocketSession<P>, Hold>();
  readonly quotas: Quotas;
  readonly agreements: Agreements;
  /** Connections, streams, polls and requests refused by a cap per address or principal. */
  private capped = 0;
  /** Sockets waiting for their hello's credentials to be verified. */
  private readonly pending = new Set<PendingSocket<P>>();
  private readonly pendingHost: PendingHost<P>;
  /** Sockets refused for their credentials (`metrics().rejected` adds them to the door's). */
  private refusedCredentials = 0;
  private readonly endables = new Set<Endable>();
  private readonly presenceListeners = new Set<(event: PresenceEvent<P>) => void>();
  private readonly traffic: Traffic = { messagesIn: 0, framesIn: 0, bytesIn: 0, messagesOut: 0, framesOut: 0, bytesOut: 0 };
  private readonly counters = { streams: 0, polls: 0, rateLimited: 0, slowConsumers: 0 };
  private readonly timer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;
  private allGone: (() => void) | undefined;

  constructor(private readonly options: CoreOptions<P>) {
    this.limits = resolveLimits(options.limits);
    this.quotas = new Quotas(this.limits);
    this.agreements = new Agreements(this.limits);
    this.heartbeat = resolveHeartbeat(options.heartbeat);
    const { historySize, historyBytes, historyTotalBytes, historyTtlMs, historyChannels, ratePerSecond, rateBurst, maxFrameBytes, maxBatch } = this.limits;
    this.rate = Object.freeze({ rate: ratePerSecond, burst: rateBurst });
    this.announced = Object.freeze({ maxFrameBytes, maxBatch, rate: ratePerSecond, burst: rateBurst });
    this.transfers = options.transfers ?? true;
    this.perToken = bytesPerToken(this.announced);
    this.heartbeatInterval = this.heartbeat.interval;
    this.hooks = new Hooks(options.hooks);
    this.engine = options.engine ?? new MemoryEngine<P>({ historySize, historyBytes, historyTotalBytes, historyTtlMs, historyChannels });
    this.hub = new Hub(this.engine, (error) => this.hooks.error(error));
    this.store = options.sessions ?? new MemorySessionStore<P>(this.limits);
    this.tickets = options.tickets ?? new MemoryTicketStore<P>();
    this.backlog = new Backlog(this.limits);
    this.outbox = new Outbox({ ...this.limits, maxPublicationBytes: this.maxPublicationBytes() }, this.traffic, this.backlog);
    this.app = {
      resolve: (channel) => this.router.resolve(channel),
      authorize: (principal, channel, action) => this.authorize(principal, channel, action),
      publish: (channel, data) => {
        this.publish(channel, data).catch((error: unknown) => this.hooks.error(error));
      },
    };
    this.channels = {
      limits: this.limits,
      hasRoom: (channel) => this.hasRoom(channel),
      join: (channel, subscriber, member) => {
        const live = this.hub.add(channel, subscriber);
        this.hub.guard(() => this.engine.join(channel, member));
        return live;
      },
      leave: (channel, subscriber, session) => {
        this.hub.remove(channel, subscriber);
        this.hub.guard(() => this.engine.leave(channel, session));
      },
      position: (channel) => this.engine.position(channel),
      history: (channel, since, limit) => this.engine.history(channel, since, limit),
    };
    this.streams = this.makeStreamHost();
    this.pendingHost = {
      limits: this.limits,
      admitted: (pending, verified, verify) => this.socket(pending.transport, verified, verify, Date.now(), pending.address, pending.hold),
      settled: (pending, refused) => {
        this.pending.delete(pending);
        if (refused) this.refusedCredentials++;
      },
      error: (error) => this.hooks.error(error),
    };
    this.started = this.start();
    this.started.catch((error: unknown) => this.hooks.error(error));
    this.timer = setInterval(() => this.beat(), this.heartbeat.interval);
    this.timer.unref();
  }

  // ---- the app's API -------------------------------------------------------------

  opened(transport: Transport, auth: SocketAuth<P>, now = Date.now()): SocketHandle {
    const { address } = auth;
    const held = this.quotas.take('connections', address, undefined);
    if (typeof held === 'string') return this.refuseSocket(transport, 'too many connections from this address');
    if (auth.verify === undefined) return this.socket(transport, { principal: auth.principal }, undefined, now, address, held);
    const pending = new PendingSocket<P>(this.pendingHost, transport, auth.verify, now, address, held);
    this.pending.add(pending);
    if (this.state !== 'running') pending.shutdown(); // opened while shutting down
    return pending;
  }

  /**
   * The socket proper, for a principal (known to the adapter, or verified
   * from the hello's token), unless the principal holds its cap. `held` is
   * its address's hold, widened to the principal: given back when the
   * socket closes (a refused socket's too, once it closed).
   */
  private socket(transport: Transport, verified: Verified<P>, verify: Verify<P> | undefined, now: number, address: string | undefined, held: Hold): SocketHandle {
    if (!held.widen(principalKey(verified.principal))) {
      this.refuseSocket(transport, 'too many connections for this principal');
      return new RefusedSocket(held);
    }
    const socket = new SocketSession<P>(this, transport, randomBytes(12).toString('base64url'), verified.principal, now, address, verify, verified.expiresAt);
    this.sockets.set(socket, held);
    if (this.state !== 'running') socket.close(CloseCode.GoingAway, 'going away'); // opened while shutting down
    return socket;
  }

  /** A socket over its address's or principal's cap: told, closed with 1013 (try again later), and ignored from now on. */
  private refuseSocket(transport: Transport, reason: string): SocketHandle {
    this.capped++;
    try {
      transport.send(encodeText({ type: 'error', code: ErrorCode.TooManyConnections, message: reason }), false);
      transport.close(CloseCode.TryAgainLater, reason);
    } catch (error) {
      this.hooks.error(error);
    }
    return IGNORED;
  }

  handle(channelOrPattern: string, handler: ChannelHandler<P>): () => void {
    const given: unknown = handler; // checked at run time too: JavaScript callers have no types
    if (typeof given !== 'object' || given === null) throw new RxmuxError(ErrorCode.InvalidArgument, 'handle(): handler must be an object');
    return this.router.add(channelOrPattern, handler);
  }

  publish(channel: string, data: Payload): Promise<void> {
    const problem = channelIdProblem(channel);
    if (problem !== undefined) throw new RxmuxError(ErrorCode.InvalidArgument, `publish(): ${problem}`);
    // Checked before the engine numbers it: a publication no subscriber could take must not take a seq.
    const size = publicationSize(channel, data);
    const max = this.maxPublicationBytes();
    if (size > max) {
      const limit = max === this.limits.maxFrameBytes ? `maxFrameBytes ${max}` : this.transfers ? `maxMessageBytes ${max}` : `${max} bytes, the whole frame a client decodes by default (chunked transfers are off; maxFrameBytes if larger)`;
      throw new RxmuxError(ErrorCode.FrameTooBig, `publish(): a publication of ${size} bytes on "${channel}" exceeds ${limit}`);
    }
    if (this.state === 'closed') throw new RxmuxError(ErrorCode.ConnectionClosed, 'publish(): the server is closed');
    try {
      return Promise.resolve(this.engine.publish(channel, data)).then(() => undefined);
    } catch (error) {
      // A synchronous engine that throws: the caller learns it from the promise, as from an asynchronous one.
      return Promise.reject(error instanceof Error ? error : new RxmuxError(ErrorCode.Remote, 'the engine refused the publication'));
    }
  }

  async presence(channel: string): Promise<readonly PresenceMember<P>[]> {
    return this.engine.presence(channel);
  }

  onPresence(listener: (event: PresenceEvent<P>) => void): () => void {
    this.presenceListeners.add(listener);
    return () => this.presenceListeners.delete(listener);
  }

  metrics(): CoreMetrics {
    const history = this.engine.usage?.();
    const sessions = this.store.usage?.();
    return {
      ...this.traffic,
      ...this.counters,
      historyBytes: history?.historyBytes ?? 0,
      historyEntries: history?.historyEntries ?? 0,
      sessionBytes: sessions?.sessionBytes ?? 0,
      largestSessionBytes: sessions?.largestSessionBytes ?? 0,
      capped: this.capped,
      bufferedBytes: this.backlog.bytes,
      backlogged: this.backlog.size,
      addresses: this.quotas.byAddress(),
      principals: this.quotas.principalCount,
      connections: this.sockets.size,
      channels: this.hub.size,
      detachedSessions: this.store.detachedCount,
      engine: this.engineStatus,
      refusedCredentials: this.refusedCredentials,
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * The largest publication: with chunked transfers `maxMessageBytes`;
   * without, one whole frame of what a client decodes by default (1 MiB).
   * Either way at least `maxFrameBytes`, and a client that announced less
   * gets a `gap` `'too-big'` for one above its own `maxFrameBytes`. The
   * server's `maxFrameBytes` bounds what it takes, not what it publishes.
   */
  private maxPublicationBytes(): number {
    return Math.max(this.limits.maxFrameBytes, this.transfers ? this.limits.maxMessageBytes : DEFAULT_DECODE_LIMITS.maxFrameBytes);
  }

  // ---- SocketHost ------------------------------------------------------------------

  welcomed(socket: SocketSession<P>): void {
    this.hooks.notify('onConnect', socket.info);
  }

  closed(socket: SocketSession<P>, code: number, reason: string): void {
    this.sockets.get(socket)?.release();
    this.sockets.delete(socket);
    const session = socket.session;
    if (session !== undefined) {
      // 1000 is the client's own close(): nobody will resume. Any other loss keeps the session for a while,
      // shutdown (1001) too: the client resumes on another node when the store is shared (`store.close()` decides).
      this.detach(socket, session, code !== CloseCode.Normal);
      this.hooks.notify('onClose', socket.info, code, reason);
    }
    if (this.sockets.size === 0) this.allGone?.();
  }

  detach(socket: SocketSession<P>, session: Session<P>, keep: boolean): void {
    reported(() => this.store.detach(session, socket, keep), (error) => this.hooks.error(error, socket.info));
  }

  overCapacity(): void {
    this.capped++;
  }

  rateLimited(socket: SocketSession<P>): void {
    this.counters.rateLimited++;
    this.hooks.notify('onRateLimited', socket.info);
  }

  slowConsumer(socket: SocketSession<P>, buffered: number): void {
    this.counters.slowConsumers++;
    this.hooks.notify('onSlowConsumer', socket.info, buffered);
  }

  error(error: unknown, socket?: SocketSession<P>): void {
    this.hooks.error(error, socket?.info);
  }

  // ---- internals ---------------------------------------------------------------------

  private makeStreamHost(): StreamHost<P> {
    const { counters, hooks } = this;
    return {
      limits: this.limits,
      authorize: (principal, channel, action) => this.authorize(principal, channel, action),
      subscribe: (channel, subscriber) => this.hub.add(channel, subscriber),
      unsubscribe: (channel, subscriber) => this.hub.remove(channel, subscriber),
      position: (channel) => this.engine.position(channel),
      history: (channel, since, limit) => this.engine.history(channel, since, limit),
      redeem: (ticket) => this.tickets.redeem(ticket),
      hold: (kind, address, principal) => {
        const held = this.quotas.take(kind, address, principalKey(principal));
        if (typeof held !== 'string') return held;
        this.capped++;
        return undefined;
      },
      hasRoom: (channel) => this.hasRoom(channel),
      ticket: (principal) => this.tickets.issue(principal, TICKET_TTL_MS),
      join: (channel, member) => this.hub.guard(() => this.engine.join(channel, member)),
      leave: (channel, session) => this.hub.guard(() => this.engine.leave(channel, session)),
      opened: (endable, info) => {
        this.endables.add(endable);
        if (this.state !== 'running') {
          // Admitted while shutdown was already ending streams (authorize or history was awaited): end it too.
          queueMicrotask(() => endable.end(CloseCode.GoingAway, 'going away'));
        }
        if (info === undefined) counters.polls++;
        else {
          counters.streams++;
          hooks.notify('onConnect', info);
        }
      },
      ended: (endable, info, code, reason) => {
        if (!this.endables.delete(endable)) return;
        if (info === undefined) counters.polls--;
        else {
          counters.streams--;
          hooks.notify('onClose', info, code, reason);
        }
      },
      slowConsumer: (info, buffered) => {
        counters.slowConsumers++;
        if (info !== undefined) hooks.notify('onSlowConsumer', info, buffered);
      },
      backlog: this.backlog,
      error: (error, info) => hooks.error(error, info),
    };
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    clearInterval(this.timer);
    this.receipts.stop();
    this.backlog.stop();
    const gone = new Promise<void>((resolve) => {
      this.allGone = resolve;
      if (this.sockets.size === 0) resolve();
    });
    for (const pending of [...this.pending]) pending.shutdown();
    for (const socket of [...this.sockets.keys()]) socket.close(CloseCode.GoingAway, 'going away');
    for (const endable of [...this.endables]) endable.end(CloseCode.GoingAway, 'going away');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    for (const socket of [...this.sockets.keys()]) socket.abort();
    try {
      await this.store.close();
    } catch (error) {
      this.hooks.error(error);
    }
    try {
      await this.started.catch(() => undefined); // never close an engine still starting
      await this.engine.close();
    } catch (error) {
      this.hooks.error(error);
    }
    this.state = 'closed';
  }

  private beat(): void {
    const now = Date.now();
    for (const pending of [...this.pending]) pending.heartbeat(now, this.heartbeat.timeout);
    for (const socket of this.sockets.keys()) socket.heartbeat(now, this.heartbeat.timeout);
    for (const endable of this.endables) endable.ping();
  }

  /** Whether `channel` has local subscribers already, or there is room for one more channel (`limits.maxChannels`). */
  private hasRoom(channel: string): boolean {
    return this.hub.has(channel) || this.hub.size < this.limits.maxChannels;
  }

  /** The app's authorize, made total: throwing or rejecting counts as a refusal. */
  private authorize(principal: P, channel: string, action: ChannelAction): boolean | Promise<boolean> {
    const authorize = this.options.authorize;
    if (authorize === undefined) return true;
    try {
      const verdict = authorize(principal, channel, action);
      if (typeof verdict === 'boolean') return verdict;
      return Promise.resolve(verdict).then(
        (ok) => ok,
        (error: unknown) => {
          this.hooks.error(error);
          return false;
        },
      );
    } catch (error) {
      this.hooks.error(error);
      return false;
    }
  }

  /** Starts the engine: what it delivers goes to the hub, the presence listeners, resyncs and the status hook. */
  private async start(): Promise<void> {
    await this.engine.start({
      publication: (p) => this.hub.deliver(p),
      presence: (event) => this.announce(event),
      reset: (channels) => this.hub.resync(channels),
      status: (status, error) => this.statusChanged(status, error),
      error: (error) => this.hooks.error(error),
    });
    if (this.engineStatus !== 'up') this.statusChanged('up', undefined);
  }

  private statusChanged(status: EngineStatus, error: unknown): void {
    if (status === this.engineStatus) return;
    this.engineStatus = status;
    this.hooks.engineStatus(status, error);
  }

  private announce(event: PresenceEvent<P>): void {
    for (const listener of this.presenceListeners) {
      try {
        listener(event);
      } catch (error) {
        this.hooks.error(error);
      }
    }
  }
}

/**
 * The size of `data`'s publication frame as a client's decoder measures it
 * (bytes for binary, UTF-16 code units for text, with the largest seq).
 * Throws a `ProtocolError` when `data` cannot travel at all (not JSON, cyclic,
 * nested too deep), so the app learns it from `publish()`.
 */
function publicationSize(channel: string, data: Payload): number {
  if (data instanceof Uint8Array) return encodeBinary({ type: 'publication', channel, data: EMPTY, seq: 0 }).byteLength + data.byteLength;
  const problem = dataProblem(data);
  if (problem !== undefined) throw new ProtocolError(ErrorCode.InvalidField, `publish(): data ${problem}`);
  return encodeText({ type: 'publication', channel, data, seq: Number.MAX_SAFE_INTEGER }).length;
}

const EMPTY = new Uint8Array(0);
