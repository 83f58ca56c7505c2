/**
 * `createServer`: wires HTTP (upgrade, SSE, long-poll), the `ws` adapter,
 * sessions, the router, the hub and the engine together.
 *
 * ```
 *  HTTP upgrade ─▶ path? ─▶ Origin allowed? (403) ─▶ authenticate (401) ─▶ ws handshake (rxmux.v1)
 *                                                                            │
 *                                                              Session ◀─────┘ (4406 without rxmux.v1)
 *  GET {path}/sse | {path}/poll ─▶ same checks ─▶ SseStream | Poll
 *  publish() ─▶ engine (seq, history, fan-out) ─▶ hub ─▶ sessions / streams / polls
 * ```
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { channelIdProblem, channelsOf, CloseCode, dataProblem, encodeBinary, encodeText, ErrorCode, ProtocolError, RxmuxError, SUBPROTOCOL, type Payload } from '@rxmux/core/protocol';
import { WebSocketServer, type WebSocket } from 'ws';
import { bindSession, wsTransport } from './adapters/ws.js';
import type { Engine, PresenceEvent, PresenceMember } from './engines/engine.js';
import { MemoryEngine } from './engines/memory.js';
import { corsHeaders, originAllowed, refuseRequest, refuseUpgrade } from './http.js';
import { Hub } from './hub.js';
import { DEFAULT_HEARTBEAT, resolveLimits, type Heartbeat, type Limits } from './limits.js';
import { Router } from './router.js';
import { SessionStore } from './resume.js';
import { Session, type SessionHost } from './session.js';
import { servePoll, serveSse, type Endable, type StreamHost } from './sse.js';
import type { ChannelAction, ChannelHandler, ConnectionInfo, RxmuxServer, ServerMetrics, ServerOptions } from './types.js';

/** Error code of an HTTP 401 body (SSE / poll). */
const UNAUTHORIZED = 'RXMUX_ERR_UNAUTHORIZED';

/** How long `close()` waits for clients to finish the close handshake before terminating them. */
const CLOSE_GRACE_MS = 3_000;

/** Longest a receipt waits for another write to ride with (PROTOCOL.md 6.6). */
const RECEIPT_DELAY_MS = 100;

type Verdict<P> = { readonly principal: P } | { readonly status: number; readonly code: string; readonly message: string };

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Creates an rxmux server, attached to `options.server` or listening on its
 * own HTTP server at `options.port`.
 *
 * @example
 * import http from 'node:http';
 * import express from 'express';
 * import { createServer, extractToken } from '@rxmux/server';
 *
 * const app = express();
 * const httpServer = http.createServer(app);
 * const rt = createServer({
 *   server: httpServer,
 *   authenticate: (req) => users.byToken(extractToken(req)) ?? null,
 *   authorize: (user, channel, action) => action === 'subscribe' || channel.startsWith(`user-${user.id}`),
 *   allowedOrigins: ['https://example.com'],
 * });
 * rt.handle('player-*', { onMessage: (ctx, beat) => ctx.publish(beat) });
 * httpServer.listen(8080);
 */
export function createServer<P = null>(options: ServerOptions<P> = {}): RxmuxServer<P> {
  return new Server<P>(options);
}

class Server<P> implements RxmuxServer<P> {
  private state: 'running' | 'closing' | 'closed' = 'running';
  private readonly limits: Limits;
  private readonly heartbeat: Heartbeat;
  private readonly path: string;
  private readonly http: HttpServer;
  private readonly ownsHttp: boolean;
  private readonly wss: WebSocketServer;
  private readonly engine: Engine;
  private readonly hub: Hub;
  private readonly router = new Router<ChannelHandler<P>>();
  private readonly sessions = new Set<Session<P>>();
  /** Session state that outlives sockets (resume, dedupe), attached and detached. */
  private readonly store: SessionStore<P>;
  private readonly endables = new Set<Endable>();
  private readonly presenceListeners = new Set<(event: PresenceEvent<P>) => void>();
  private readonly counters: Mutable<Omit<ServerMetrics, 'connections' | 'channels' | 'detachedSessions'>> = {
    streams: 0,
    polls: 0,
    framesIn: 0,
    framesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    rateLimited: 0,
    slowConsumers: 0,
    rejected: 0,
  };
  private readonly sessionHost: SessionHost<P>;
  private readonly streamHost: StreamHost<P>;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly started: Promise<void>;
  private readonly detach: () => void;
  /** Sessions with queued envelopes, flushed together once per turn of the event loop (check phase). */
  private dirty: Session<P>[] = [];
  /** Sessions owing a receipt, sent together by one short timer. */
  private receiptsDue = new Set<Session<P>>();
  private receiptTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private allGone: (() => void) | undefined;

  constructor(private readonly options: ServerOptions<P>) {
    this.limits = resolveLimits(options.limits);
    this.heartbeat = Object.freeze({ ...DEFAULT_HEARTBEAT, ...options.heartbeat });
    if (!(this.heartbeat.interval > 0) || !(this.heartbeat.timeout > this.heartbeat.interval)) {
      throw new RangeError('heartbeat: interval must be positive and timeout greater than interval');
    }
    this.path = (options.path ?? '/rt').replace(/\/+$/, '') || '/';
    this.engine =
      options.engine ??
      new MemoryEngine({ historySize: this.limits.historySize, historyTtlMs: this.limits.historyTtlMs, historyChannels: this.limits.historyChannels });
    this.hub = new Hub(this.engine, (error) => this.error(error));
    this.store = new SessionStore<P>(this.limits);
    this.sessionHost = this.makeSessionHost();
    this.streamHost = this.makeStreamHost();
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // Select rxmux.v1 only; a token subprotocol offered next to it is read by authenticate, never selected.
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.ownsHttp = options.server === undefined;
    this.http = options.server ?? createHttpServer();
    this.detach = this.attach();
    this.hub.guard(() =>
      this.engine.start({
        publication: (p) => this.hub.deliver(p),
        presence: (event) => this.announce(event as PresenceEvent<P>),
      }),
    );
    this.heartbeatTimer = setInterval(() => this.beat(), this.heartbeat.interval);
    this.heartbeatTimer.unref();
    this.started = this.listen();
    this.started.catch(() => undefined); // surfaced by ready()
  }

  get port(): number {
    return this.address()?.port ?? 0;
  }

  address(): AddressInfo | null {
    const address = this.http.address();
    return address !== null && typeof address === 'object' ? address : null;
  }

  ready(): Promise<void> {
    return this.started;
  }

  handle(channelOrPattern: string, handler: ChannelHandler<P>): () => void {
    if (typeof handler !== 'object' || handler === null) throw new TypeError('handle(): handler must be an object');
    return this.router.add(channelOrPattern, handler);
  }

  publish(channel: string, data: Payload): Promise<void> {
    const problem = channelIdProblem(channel);
    if (problem !== undefined) throw new RxmuxError(ErrorCode.InvalidArgument, `publish(): ${problem}`);
    // Checked before the engine numbers it: a publication no subscriber could take must not take a seq.
    const size = publicationSize(channel, data);
    if (size > this.limits.maxFrameBytes) {
      throw new RxmuxError(ErrorCode.FrameTooBig, `publish(): a publication of ${size} bytes on "${channel}" exceeds maxFrameBytes ${this.limits.maxFrameBytes}, what clients accept`);
    }
    if (this.state === 'closed') throw new RxmuxError(ErrorCode.ConnectionClosed, 'publish(): the server is closed');
    try {
      return Promise.resolve(this.engine.publish(channel, data)).then(() => undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async presence(channel: string): Promise<readonly PresenceMember<P>[]> {
    return (await this.engine.presence(channel)) as readonly PresenceMember<P>[];
  }

  onPresence(listener: (event: PresenceEvent<P>) => void): () => void {
    this.presenceListeners.add(listener);
    return () => this.presenceListeners.delete(listener);
  }

  metrics(): ServerMetrics {
    return { ...this.counters, connections: this.sessions.size, channels: this.hub.size, detachedSessions: this.store.detachedCount };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---- lifecycle -----------------------------------------------------------

  private listen(): Promise<void> {
    if (!this.ownsHttp) {
      return this.http.listening ? Promise.resolve() : new Promise((resolve) => this.http.once('listening', () => resolve()));
    }
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.options.port ?? 0, this.options.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
  }

  /** Installs the upgrade and request listeners; returns a function that removes them again. */
  private attach(): () => void {
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.upgrade(req, socket, head);
    // Requests for our endpoints must not reach the app's own handler (Express would answer 404),
    // so the existing request listeners are wrapped, as engine.io does.
    const original = this.http.listeners('request') as RequestListener[];
    this.http.removeAllListeners('request');
    const onRequest: RequestListener = (req, res) => {
      if (this.request(req, res)) return;
      if (original.length === 0) refuseRequest(res, 404, 'RXMUX_ERR_NOT_FOUND', 'not found');
      for (const listener of original) listener.call(this.http, req, res);
    };
    this.http.on('request', onRequest);
    this.http.on('upgrade', onUpgrade);
    return () => {
      this.http.off('upgrade', onUpgrade);
      this.http.off('request', onRequest);
      for (const listener of original) this.http.on('request', listener);
    };
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.receiptTimer);
    this.receiptTimer = undefined;
    this.receiptsDue.clear();
    const gone = new Promise<void>((resolve) => {
      this.allGone = resolve;
      if (this.sessions.size === 0) resolve();
    });
    for (const session of [...this.sessions]) session.close(CloseCode.GoingAway, 'going away');
    for (const endable of [...this.endables]) endable.end(CloseCode.GoingAway, 'going away');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    for (const session of [...this.sessions]) session.abort();
    this.store.clear();
    this.detach();
    this.wss.close();
    try {
      await this.engine.close();
    } catch (error) {
      this.error(error);
    }
    if (this.ownsHttp && this.http.listening) {
      await new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
    }
    this.state = 'closed';
  }

  private beat(): void {
    const now = Date.now();
    for (const session of this.sessions) session.heartbeat(now, this.heartbeat.timeout);
    for (const endable of this.endables) endable.ping();
  }

  // ---- the door --------------------------------------------------------------

  /** Origin, then authenticate: the checks shared by the upgrade and the SSE / poll endpoints. */
  private async admit(req: IncomingMessage): Promise<Verdict<P>> {
    if (this.state !== 'running') return { status: 503, code: 'RXMUX_ERR_SHUTTING_DOWN', message: 'server is shutting down' };
    if (!originAllowed(req, this.options.allowedOrigins)) {
      this.counters.rejected++;
      return { status: 403, code: ErrorCode.Forbidden, message: 'origin not allowed' };
    }
    const authenticate = this.options.authenticate;
    if (authenticate === undefined) return { principal: null as P };
    try {
      const principal = await authenticate(req);
      if (principal !== null && principal !== undefined) return { principal };
    } catch (error) {
      this.error(error);
    }
    this.counters.rejected++;
    return { status: 401, code: UNAUTHORIZED, message: 'authentication failed' };
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (pathOf(req) !== this.path) {
      if (this.ownsHttp) refuseUpgrade(socket, 404, 'not found');
      return; // attached: another upgrade listener of the app may want it
    }
    const ignore = (): void => undefined; // a client vanishing during authenticate is not an error
    socket.on('error', ignore);
    void this.admit(req).then((verdict) => {
      socket.off('error', ignore);
      if ('status' in verdict) return refuseUpgrade(socket, verdict.status, verdict.message);
      if (this.state !== 'running') return refuseUpgrade(socket, 503, 'server is shutting down');
      if (socket.destroyed) return;
      this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, verdict.principal));
    });
  }

  private connected(ws: WebSocket, principal: P): void {
    if (ws.protocol !== SUBPROTOCOL) {
      ws.on('error', () => undefined);
      ws.close(CloseCode.UnsupportedProtocol, `subprotocol ${SUBPROTOCOL} required`);
      return;
    }
    const session = new Session<P>(this.sessionHost, wsTransport(ws), randomBytes(12).toString('base64url'), principal, Date.now());
    this.sessions.add(session);
    bindSession(ws, session, (error) => this.error(error, session.info));
  }

  /** Serves `{path}/sse` and `{path}/poll`; returns false for any other request. */
  private request(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const kind = url.pathname === `${this.path}/sse` ? 'sse' : url.pathname === `${this.path}/poll` ? 'poll' : undefined;
    if (kind === undefined) return false;
    if (req.method === 'OPTIONS') {
      if (!originAllowed(req, this.options.allowedOrigins)) refuseRequest(res, 403, ErrorCode.Forbidden, 'origin not allowed');
      else {
        res.writeHead(204, { ...corsHeaders(req), 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'authorization, last-event-id', 'access-control-max-age': '600' });
        res.end();
      }
      return true;
    }
    if (req.method !== 'GET') {
      refuseRequest(res, 405, 'RXMUX_ERR_METHOD', 'use GET');
      return true;
    }
    void this.serveStream(kind, req, res, url).catch((error: unknown) => {
      this.error(error);
      refuseRequest(res, 500, ErrorCode.Remote, 'internal error');
    });
    return true;
  }

  private async serveStream(kind: 'sse' | 'poll', req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const verdict = await this.admit(req);
    if ('status' in verdict) return refuseRequest(res, verdict.status, verdict.code, verdict.message);
    const names = channelsOf(url);
    if (names.length === 0) return refuseRequest(res, 400, ErrorCode.InvalidChannel, 'name at least one channel: ?channel=a&channel=b or ?channels=a,b');
    const serve = kind === 'sse' ? serveSse : servePoll;
    await serve(this.streamHost, req, res, url, names, verdict.principal);
  }

  // ---- hosts -------------------------------------------------------------------

  private makeSessionHost(): SessionHost<P> {
    const counters = this.counters;
    const rate = Object.freeze({ rate: this.limits.ratePerSecond, burst: this.limits.rateBurst });
    const announced = Object.freeze({ maxFrameBytes: this.limits.maxFrameBytes, maxBatch: this.limits.maxBatch, ...rate });
    return {
      limits: this.limits,
      rate,
      announced,
      heartbeatInterval: this.heartbeat.interval,
      resolve: (channel) => this.router.resolve(channel),
      authorize: (principal, channel, action) => this.authorize(principal, channel, action),
      publish: (channel, data) => {
        this.publish(channel, data).catch((error: unknown) => this.error(error));
      },
      subscribe: (session, channel) => {
        this.hub.add(channel, session);
        this.hub.guard(() => this.engine.join(channel, session.info));
      },
      unsubscribe: (session, channel) => {
        this.hub.remove(channel, session);
        this.hub.guard(() => this.engine.leave(channel, session.id));
      },
      history: (channel, since, limit) => this.engine.history(channel, since, limit),
      attach: (session, name) => this.store.attach(session, session.principal, name),
      opened: (session) => this.hook('onConnect', session.info),
      scheduleFlush: (session) => {
        // setImmediate, not queueMicrotask: a microtask flushes after each socket's 'data' callback,
        // setImmediate after the whole poll phase, so frames caused by many sockets' input share a
        // write. Measured (100 subscribers, 10 publishers, 300k deliveries, 5 runs each): median 272
        // vs 62 envelopes per ws message, throughput equal or better, round-trip median equal (~160 us).
        if (this.dirty.push(session) === 1) setImmediate(() => this.flush());
      },
      receiptDue: (session) => {
        this.receiptsDue.add(session);
        this.receiptTimer ??= setTimeout(() => {
          this.receiptTimer = undefined;
          const due = this.receiptsDue;
          this.receiptsDue = new Set();
          for (const s of due) s.sendReceipt();
        }, RECEIPT_DELAY_MS);
      },
      count: (direction, frames, bytes) => {
        if (direction === 'in') {
          counters.messagesIn++;
          counters.framesIn += frames;
          counters.bytesIn += bytes;
        } else {
          counters.messagesOut++;
          counters.framesOut += frames;
          counters.bytesOut += bytes;
        }
      },
      rateLimited: (session) => {
        counters.rateLimited++;
        this.hook('onRateLimited', session.info);
      },
      slowConsumer: (session, buffered) => {
        counters.slowConsumers++;
        this.hook('onSlowConsumer', session.info, buffered);
      },
      closed: (session, code, reason) => {
        this.sessions.delete(session);
        const memory = session.attachedTo;
        if (memory !== undefined) {
          // 1000 is the client's own close(): nobody will resume. Any other loss keeps the session for a while.
          this.store.detach(memory, session, code !== CloseCode.Normal && this.state === 'running');
          this.hook('onClose', session.info, code, reason);
        }
        if (this.sessions.size === 0) this.allGone?.();
      },
      error: (error, session) => this.error(error, session?.info),
    };
  }

  private makeStreamHost(): StreamHost<P> {
    const counters = this.counters;
    return {
      limits: this.limits,
      engine: this.engine,
      hub: this.hub,
      authorize: (principal, channel, action) => this.authorize(principal, channel, action),
      join: (channel, info) => this.hub.guard(() => this.engine.join(channel, info)),
      leave: (channel, info) => this.hub.guard(() => this.engine.leave(channel, info.session)),
      opened: (endable, info) => {
        this.endables.add(endable);
        if (this.state !== 'running') {
          // Admitted while shutdown was already ending streams (authorize or history was awaited): end it too.
          queueMicrotask(() => endable.end(CloseCode.GoingAway, 'going away'));
        }
        if (info === undefined) counters.polls++;
        else {
          counters.streams++;
          this.hook('onConnect', info);
        }
      },
      ended: (endable, info, code, reason) => {
        if (!this.endables.delete(endable)) return;
        if (info === undefined) counters.polls--;
        else {
          counters.streams--;
          this.hook('onClose', info, code, reason);
        }
      },
      slowConsumer: (info, buffered) => {
        counters.slowConsumers++;
        this.hook('onSlowConsumer', info, buffered);
      },
      error: (error, info) => this.error(error, info),
    };
  }

  /** Sends every queued batch: one WebSocket message per connection per turn. */
  private flush(): void {
    const dirty = this.dirty;
    this.dirty = [];
    for (const session of dirty) {
      try {
        session.flush();
      } catch (error) {
        this.error(error, session.info);
      }
    }
  }

  /** The app's authorize, made total: throwing or rejecting counts as a refusal. */
  private authorize(principal: P, channel: string, action: ChannelAction): boolean | Promise<boolean> {
    const authorize = this.options.authorize;
    if (authorize === undefined) return true;
    try {
      const verdict = authorize(principal, channel, action);
      if (typeof verdict === 'boolean') return verdict;
      return Promise.resolve(verdict).then(
        (ok) => ok === true,
        (error: unknown) => {
          this.error(error);
          return false;
        },
      );
    } catch (error) {
      this.error(error);
      return false;
    }
  }

  private announce(event: PresenceEvent<P>): void {
    for (const listener of this.presenceListeners) {
      try {
        listener(event);
      } catch (error) {
        this.error(error);
      }
    }
  }

  private error(error: unknown, info?: ConnectionInfo<P>): void {
    try {
      this.options.hooks?.onError?.(error, info);
    } catch {
      // a throwing error hook has nowhere left to report to
    }
  }

  private hook<K extends 'onConnect' | 'onClose' | 'onSlowConsumer' | 'onRateLimited'>(
    name: K,
    ...args: Parameters<NonNullable<NonNullable<ServerOptions<P>['hooks']>[K]>>
  ): void {
    const hook = this.options.hooks?.[name] as ((...a: typeof args) => void) | undefined;
    if (hook === undefined) return;
    try {
      hook(...args);
    } catch (error) {
      this.error(error);
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

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)).replace(/\/+$/, '') || '/';
}
