import { defer, finalize, from, interval, Observable, of, retry, share, Subscription, switchMap, throwError, timer, type SchedulerLike } from 'rxjs';
import { encodeBatch, encodeText } from '../protocol/codec.js';
import { CloseCode, isRetryableClose } from '../protocol/close-codes.js';
import { ErrorCode, RxmuxError, type ProtocolError } from '../protocol/errors.js';
import { MIN_SERVER_LIMITS, SUBPROTOCOL, TRANSFER_SUBPROTOCOL, TRANSFER_VERSION, type Frame, type TransferLimits, type WelcomeFrame } from '../protocol/frames.js';
import { transferLimitsOf } from '../protocol/transfer.js';
import { utf8Length } from '../protocol/utf8.js';
import { ConnectionLostError, ReconnectFailedError } from '../errors.js';
import { backoffDelay, type BackoffPolicy } from '../operators/backoff.js';
import { heartbeat, type HeartbeatOptions } from '../operators/heartbeat.js';
import { openSocket, type WebSocketConstructor, type WebSocketLike } from '../transport/websocket.js';
import type { BufferedMessage } from './buffer.js';
import { Link, linkLimits, MAX_BATCH } from './link.js';
import type { TokenProvider } from './options.js';
import type { StatusMachine } from './status.js';

const OPEN = 1;

/** The settings of a connection's socket lifecycle. @internal */
export interface LifecycleOptions {
  readonly WebSocket: WebSocketConstructor;
  readonly url: string;
  readonly scheduler: SchedulerLike;
  readonly heartbeat: HeartbeatOptions | false;
  readonly connectTimeout: number;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
  readonly maxFrameBytes: number;
  /** The credential for each hello (and each refresh), when the app gave one. */
  readonly token: TokenProvider | undefined;
  /** What the client accepts of chunked transfers (it offers `rxmux.v2`); `undefined`: v1 only. */
  readonly transfers: TransferLimits | undefined;
}

/** What the lifecycle tells the connection (the layers above it). @internal */
export interface LifecycleHooks {
  readonly status: StatusMachine;
  /**
   * The socket opened: the `subscribe` frames to send with the hello (the
   * hello batch), as many as `fits` accepts, in order. The welcome's re-join
   * skips them.
   */
  joins(fits: (wire: string) => boolean): string[];
  /** A socket was welcomed: re-join, re-send, flush on `link`. */
  welcomed(link: Link, welcome: WelcomeFrame): void;
  /** A frame after the welcome. */
  frame(frame: Frame, link: Link): void;
  /** A frame failed to decode (`raw` is what the socket delivered). */
  decodeError(error: ProtocolError, raw: unknown): void;
  /** An error frame before the welcome, or a frame that has no business there. */
  early(frame: Frame): void;
  /** The welcomed socket is gone (closed, failed or released). */
  lost(link: Link): void;
  /** The link can take data again after its rate budget ran out. */
  drained(link: Link): void;
  /** The last piece of a chunked message was written on `link`. */
  transferred(link: Link, item: BufferedMessage): void;
  /** Reconnecting gave up: everything still waiting fails with `failure`. */
  failed(failure: ReconnectFailedError): void;
  /** Whether the connection was closed for good (no more attempts). */
  closed(): boolean;
  /** Every WebSocket message written on the socket (by the lifecycle or the link), for the debug tap. */
  wrote?(wire: string | Uint8Array): void;
  /** Every socket message received, for the debug tap. */
  received?(raw: unknown, frames: readonly Frame[]): void;
}

/**
 * What may ride with a hello of `helloBytes` (PROTOCOL.md 6.1): before the
 * welcome the client knows nothing of the server's limits but the protocol's
 * minimum, so the whole message stays within `MIN_SERVER_LIMITS` (envelopes,
 * UTF-8 bytes; the bucket is full at the first message) and the client's own
 * `maxFrameBytes`. Returns the test each further envelope must pass (it counts what it accepts).
 * @internal
 */
export function helloRoom(helloBytes: number, maxFrameBytes: number): (wire: string) => boolean {
  let envelopes = Math.min(MIN_SERVER_LIMITS.maxBatch, MIN_SERVER_LIMITS.burst) - 1;
  let bytes = Math.min(MIN_SERVER_LIMITS.maxFrameBytes, maxFrameBytes) - helloBytes - 2; // the batch's brackets
  return (wire) => {
    const size = utf8Length(wire) + 1; // and its comma
    if (envelopes < 1 || size > bytes) return false;
    envelopes--;
    bytes -= size;
    return true;
  };
}

/**
 * The socket layer of a connection as one shared Observable: subscribing
 * opens a socket, says hello (with the subscribes of the channels already
 * joined, in one message: the hello batch), waits for the welcome and emits the welcomed
 * {@link Link} (after `minUptime`, so the retry counter starts over only for a
 * link that stayed up); a lost socket is retried with backoff and jitter, a
 * fatal close code or `maxAttempts` ends it with `ReconnectFailedError`. The
 * last unsubscribe closes the socket. Every transition goes through `status`.
 *
 * ```
 *  subscribe ─▶ connecting ─▶ socket open ─▶ hello + subscribes ─▶ welcome (+ subscribed, data) ─▶ open ─▶ (link emitted after minUptime)
 *                   ▲                                                │ lost
 *                   └──── backoff + jitter ◀── reconnecting ◀────────┘   fatal / maxAttempts ─▶ failed
 * ```
 * @internal
 */
export function socketLifecycle(options: LifecycleOptions, hooks: LifecycleHooks): Observable<Link> {
  /** Which demand cycle of the socket is current: a finished cycle must not touch the status of a newer one. */
  let cycle = 0;
  /** The session of the last welcome: the next hello asks to resume it. */
  let session: string | undefined;

  const retryDelay = (error: unknown, attempt: number): Observable<number> => {
    const detail = {
      attempt,
      reason: error instanceof ConnectionLostError ? error.reason : error instanceof Error ? error.message : String(error),
      ...(error instanceof ConnectionLostError ? { code: error.closeCode } : {}),
      ...(error instanceof Error ? { error } : {}),
    };
    const fatal =
      (error instanceof ConnectionLostError && !isRetryableClose(error.closeCode)) ||
      (error instanceof RxmuxError && (error.code === ErrorCode.UnsupportedProtocol || error.code === ErrorCode.InvalidArgument));
    if (fatal || attempt > options.backoff.maxAttempts || hooks.closed()) {
      const failure = new ReconnectFailedError(attempt - 1, error);
      hooks.status.transition('failed', { ...detail, error: failure });
      hooks.failed(failure);
      return throwError(() => failure);
    }
    const retryIn = backoffDelay(attempt, options.backoff, options.random);
    hooks.status.transition('reconnecting', { ...detail, retryIn });
    return timer(retryIn, options.scheduler);
  };

  /** The current credential, asked of the provider; a throw, a rejection or a non-string fails this attempt (retried). */
  const currentToken = (provider: TokenProvider): Observable<string> =>
    // A string is used at once (no extra turn); a promise is awaited. A throw errors the defer.
    defer(() => {
      const token: unknown = provider();
      return token instanceof Promise ? from(token as Promise<unknown>) : of(token);
    }).pipe(
      switchMap((token: unknown) =>
        typeof token === 'string' ? of(token) : throwError(() => new RxmuxError(ErrorCode.Unauthorized, `the token provider returned ${typeof token}, not a string`)),
      ),
    );

  /** One attempt: the credential first (when there is a provider), then the socket. */
  const attempt = (): Observable<Link> => {
    const status = hooks.status;
    if (status.value === 'closed' || status.value === 'failed') status.transition('connecting');
    const provider = options.token;
    return provider === undefined ? openOne(undefined, undefined) : currentToken(provider).pipe(switchMap((token) => openOne(token, provider)));
  };

  /**
   * When to ask for new credentials: a minute before they expire, or half way
   * for short-lived ones, so a slow provider or a retry still fits.
   */
  const refreshDelay = (expiresIn: number): number => Math.max(expiresIn / 2, expiresIn - 60_000);

  /** One socket from open to loss: emits the Link once the welcome arrived (and it stayed up `minUptime`). */
  const openOne = (token: string | undefined, provider: TokenProvider | undefined): Observable<Link> =>
    new Observable<Link>((subscriber) => {
      let socket: WebSocketLike | undefined;
      /** The protocol version the server selected (2: chunked transfers). */
      let version = 1;
      let link: Link | undefined;
      /** Envelopes written before the welcome (the hello, pongs): the server charged them to this socket's rate. */
      let spent = 0;
      const timers = new Subscription();
      const write = (wire: string, envelopes = 1): void => {
        (socket as WebSocketLike).send(wire);
        spent += envelopes;
        hooks.wrote?.(wire);
      };
      /** Sends new credentials before the current ones expire; `expiresIn` undefined: they do not. */
      let refreshing: Subscription | undefined;
      const refreshBefore = (live: Link, expiresIn: number | undefined): void => {
        if (refreshing !== undefined) {
          refreshing.unsubscribe();
          timers.remove(refreshing);
        }
        if (expiresIn === undefined || provider === undefined) return;
        refreshing = timer(refreshDelay(expiresIn), options.scheduler)
          .pipe(
            // A provider that fails is asked again (a second apart) until the credentials expire: the server closes with 4401 then.
            switchMap(() => currentToken(provider).pipe(retry({ delay: () => timer(1_000, options.scheduler) }))),
          )
          .subscribe((fresh) => live.write(encodeText({ type: 'refresh', token: fresh }), true));
        timers.add(refreshing);
      };
      const offered = options.transfers === undefined ? [SUBPROTOCOL] : [TRANSFER_SUBPROTOCOL, SUBPROTOCOL];
      const events = openSocket(options.WebSocket, options.url, { maxFrameBytes: options.maxFrameBytes }, offered)
        .pipe(
          heartbeat(
            options.heartbeat,
            options.connectTimeout,
            options.scheduler,
            () => {
              if (socket?.readyState === OPEN) socket.close(CloseCode.HeartbeatTimeout, 'heartbeat timeout');
            },
            // connected means welcomed: an open socket that never answers hello is bounded by connectTimeout
            (event) => event.kind === 'frames' && event.result.frames.some((frame) => frame.type === 'welcome'),
          ),
        )
        .subscribe({
          next: (event) => {
            if (event.kind === 'open') {
              socket = event.socket;
              version = event.version;
              const transfers = version === TRANSFER_VERSION ? options.transfers : undefined;
              const hello = encodeText({
                type: 'hello',
                version,
                ...(session === undefined ? {} : { session }),
                limits: { maxFrameBytes: options.maxFrameBytes, maxBatch: MAX_BATCH, ...transfers },
                ...(token === undefined ? {} : { token }),
              });
              const batch = [hello, ...hooks.joins(helloRoom(utf8Length(hello), options.maxFrameBytes))];
              write(batch.length === 1 ? hello : encodeBatch(batch), batch.length);
              return;
            }
            hooks.received?.(event.raw, event.result.frames);
            for (const error of event.result.errors) hooks.decodeError(error, event.raw);
            for (const frame of event.result.frames) {
              if (subscriber.closed) return;
              if (link !== undefined && frame.type === 'refreshed') {
                refreshBefore(link, frame.expiresIn);
              } else if (link !== undefined) {
                hooks.frame(frame, link);
              } else if (frame.type === 'welcome' && socket !== undefined) {
                // Chunked transfers when both sides speak v2 and the server said what it takes.
                const server = version === TRANSFER_VERSION ? transferLimitsOf(frame.limits) : undefined;
                const own = options.transfers;
                const welcomed: Link = new Link(
                  socket,
                  linkLimits(frame.limits, options.maxFrameBytes),
                  options.scheduler,
                  () => hooks.drained(welcomed),
                  spent,
                  hooks.wrote === undefined ? undefined : (wire) => hooks.wrote?.(wire),
                  server === undefined || own === undefined ? undefined : { server, own, transferred: (item) => hooks.transferred(welcomed, item) },
                );
                link = welcomed;
                session = frame.session;
                if (options.heartbeat !== false) {
                  timers.add(
                    interval(options.heartbeat.interval, options.scheduler).subscribe(() => {
                      welcomed.write(encodeText({ type: 'ping', t: Math.round(options.scheduler.now()) }), true);
                    }),
                  );
                }
                hooks.welcomed(welcomed, frame);
                refreshBefore(welcomed, frame.expiresIn);
                // The retry counter resets only for a link that stayed up `minUptime`: a server that
                // welcomes and then drops the link (a poison message, a crash loop) still backs off.
                timers.add(options.scheduler.schedule(() => subscriber.next(welcomed), options.backoff.minUptime));
              } else if (frame.type === 'ping' && socket !== undefined) {
                write(encodeText({ type: 'pong', ...(frame.t === undefined ? {} : { t: frame.t }) }));
              } else if (frame.type !== 'pong') {
                hooks.early(frame);
              }
            }
          },
          error: (error: unknown) => subscriber.error(error),
        });
      return () => {
        timers.unsubscribe();
        if (link !== undefined) {
          link.close(socket?.readyState === OPEN);
          hooks.lost(link);
        }
        events.unsubscribe();
      };
    });

  return defer(() => {
    const current = ++cycle;
    return defer(attempt).pipe(
      retry({ resetOnSuccess: true, delay: retryDelay }),
      finalize(() => {
        if (current === cycle && hooks.status.value !== 'failed') hooks.status.transition('closed');
      }),
    );
  }).pipe(share({ resetOnError: true, resetOnComplete: true, resetOnRefCountZero: true }));
}
