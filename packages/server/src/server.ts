/**
 * `createServer`: the composition of the HTTP door, the server core and the
 * `ws` adapter on an `http.Server` (the app's, or one of its own).
 *
 * ```
 *  HTTP upgrade {path} ─▶ ws adapter ─▶ door: running? (503) Origin? (403) authenticate (401) ─▶ handshake (rxmux.v2|v1, else 4406)
 *                                                                                                   │
 *  GET {path}/sse | {path}/poll ─▶ routes ─▶ the same door ─▶ SseStream | Poll ──┐                   ▼
 *                                                                                └──▶ core ◀── core.opened(transport, principal)
 *  publish() ─▶ core ─▶ engine (seq, history, fan-out) ─▶ hub ─▶ sockets / streams / polls
 * ```
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@rxmux/core/protocol';
import { wsAdapter, type WsAdapter } from './adapters/ws.js';
import { Hooks } from './core/hooks.js';
import { createServerCore, type ServerCore } from './core/server-core.js';
import type { PresenceEvent, PresenceMember } from './engines/engine.js';
import { anonymous, authenticated, createDoor, type Credentials, type Door } from './http/door.js';
import { peerAddress } from './http/address.js';
import { attach, normalizePath, streamRoutes } from './http/routes.js';
import { AuthThrottle, ReplayBudget } from './http/throttle.js';
import type { AuthenticatedServerOptions, BaseServerOptions, ChannelHandler, RxmuxServer, ServerMetrics, ServerOptions } from './types.js';

/**
 * Creates an rxmux server, attached to `options.server` or listening on its
 * own HTTP server at `options.port`. With `authenticate`, the principal type
 * is what it returns; without, every request is admitted with `null`.
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
 *   authenticate: (req) => users.byToken(extractToken(req)) ?? null,   // rt: RxmuxServer<User>
 *   authorize: (user, channel, action) => action === 'subscribe' || channel.startsWith(`user-${user.id}`),
 *   allowedOrigins: ['https://example.com'],
 * });
 * rt.handle('player-*', { onMessage: (ctx, beat) => ctx.publish(beat) });
 * httpServer.listen(8080);
 */
export function createServer<P>(options: AuthenticatedServerOptions<P>): RxmuxServer<P>;
export function createServer<P extends null = null>(options?: ServerOptions<P>): RxmuxServer;
export function createServer<P>(options: AuthenticatedServerOptions<P> | ServerOptions = {}): RxmuxServer<P> | RxmuxServer {
  if (options.authenticate === undefined) return new Server<null>(options, () => anonymous);
  const authenticate = options.authenticate;
  return new Server<P>(options, (report) => authenticated(authenticate, report));
}

class Server<P> implements RxmuxServer<P> {
  private readonly core: ServerCore<P>;
  private readonly door: Door<P>;
  private readonly throttle: AuthThrottle;
  private readonly replay: ReplayBudget;
  private readonly ws: WsAdapter;
  private readonly http: HttpServer;
  private readonly ownsHttp: boolean;
  private readonly detach: () => void;
  private readonly started: Promise<void>;
  private closing: Promise<void> | undefined;

  constructor(options: BaseServerOptions<P>, credentials: (report: (error: unknown) => void) => Credentials<P>) {
    const { authorize, engine, limits, heartbeat, hooks, sessions, tickets, transfers } = options;
    this.core = createServerCore<P>({ authorize, engine, limits, heartbeat, hooks, sessions, tickets, transfers }); // checks the options first: throws before anything is attached
    const errors = new Hooks(hooks);
    const report = (error: unknown): void => errors.error(error);
    const streams = this.core.streams;
    const { authFailureRate, authFailureBurst, replayBytesPerSecond } = this.core.limits;
    this.replay = new ReplayBudget({ rate: replayBytesPerSecond, burst: replayBytesPerSecond });
    this.door = createDoor({
      allowedOrigins: options.allowedOrigins,
      credentials: credentials(report),
      accepting: () => this.core.state === 'running',
      redeem: (ticket) => streams.redeem(ticket),
      clientAddress: options.clientAddress ?? peerAddress,
      throttle: (this.throttle = new AuthThrottle({ rate: authFailureRate, burst: authFailureBurst })),
    });
    this.ws = wsAdapter(this.core, (req) => this.door.upgrade(req));
    this.ownsHttp = options.server === undefined;
    this.http = options.server ?? createHttpServer();
    const path = normalizePath(options.path ?? '/rt');
    this.detach = attach(this.http, { path, upgrade: this.ws.upgrade, request: streamRoutes(path, this.door, this.core.streams, this.replay, report) });
    this.started = Promise.all([this.listen(options), this.core.started]).then(() => undefined);
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
    return this.core.handle(channelOrPattern, handler);
  }

  publish(channel: string, data: Payload): Promise<void> {
    return this.core.publish(channel, data);
  }

  presence(channel: string): Promise<readonly PresenceMember<P>[]> {
    return this.core.presence(channel);
  }

  onPresence(listener: (event: PresenceEvent<P>) => void): () => void {
    return this.core.onPresence(listener);
  }

  metrics(): ServerMetrics {
    const { refusedCredentials, ...core } = this.core.metrics();
    return { ...core, rejected: this.door.rejected + refusedCredentials, authThrottled: this.throttle.refused, replayWaits: this.replay.waits };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private listen(options: BaseServerOptions<P>): Promise<void> {
    if (!this.ownsHttp) {
      return this.http.listening ? Promise.resolve() : new Promise((resolve) => this.http.once('listening', () => resolve()));
    }
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(options.port ?? 0, options.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
  }

  /** The core drains and closes every client first (the door answers 503 meanwhile), then the HTTP side lets go. */
  private async shutdown(): Promise<void> {
    await this.core.close();
    this.detach();
    this.ws.close();
    if (this.ownsHttp && this.http.listening) {
      await new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
    }
  }
}
