import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { TransferLimits } from '../protocol/frames.js';
import { DEFAULT_TRANSFER_LIMITS } from '../protocol/transfer.js';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../operators/backoff.js';
import { DEFAULT_HEARTBEAT, type HeartbeatOptions } from '../operators/heartbeat.js';
import type { EventStreamOptions } from '../sse/index.js';
import type { WebSocketConstructor } from '../transport/websocket.js';
import { DEFAULT_BUFFER, type BufferOptions } from './buffer.js';
import type { DropReason } from './outbox.js';

/** Options of {@link connect}. All are optional; the defaults suit a browser page. */
export interface ConnectOptions {
  /** WebSocket constructor. Default: `globalThis.WebSocket` (in Node 20 pass `WebSocket` from `ws`). */
  readonly WebSocket?: WebSocketConstructor;
  /** Scheduler for every timer (backoff, heartbeat, linger, timeouts). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Reconnect policy. Defaults: 500 ms, ×2, 30 s cap, 50 % jitter, unlimited attempts. */
  readonly reconnect?: Partial<BackoffPolicy>;
  /** Random source for jitter, 0 ≤ x < 1. Default `Math.random`. */
  readonly random?: () => number;
  /** Client heartbeat, or `false` to rely on the server's. Default `{ interval: 25000, timeout: 10000 }`. */
  readonly heartbeat?: Partial<HeartbeatOptions> | false;
  /** Most time from opening a socket to its first event, in ms. Default 10 000. */
  readonly connectTimeout?: number;
  /** How long a channel (and a send-only connection) stays joined after its last subscriber leaves, in ms. Default 1 000. */
  readonly linger?: number;
  /** Offline buffer bounds. Defaults: 100 messages, 1 MiB, `'drop-oldest'`. */
  readonly buffer?: Partial<BufferOptions>;
  /**
   * Largest frame accepted from the server, in bytes, announced in the hello
   * (the server writes batches and publications up to it). What this client
   * writes is bounded by the smaller of it and the server's announced
   * `maxFrameBytes` (64 KiB by default on `@rxmux/server`). Default 1 MiB.
   */
  readonly maxFrameBytes?: number;
  /**
   * Chunked transfers (protocol v2, offered as `rxmux.v2`): with a server
   * that speaks them, a payload larger than a piece (`sendBinary`, a `send`
   * of JSON within the server's `maxFrameBytes`, and the server's large
   * publications) travels in pieces,
   * interleaved with every other channel's frames, at most a window of bytes
   * in flight; the app still sends and receives whole messages. What the
   * client accepts, announced in the hello: `chunkBytes` (largest piece,
   * default 64 KiB), `window` (bytes the server may have in flight towards
   * it, default 64 KiB), `maxMessageBytes` (largest publication put
   * together, default 8 MiB), `maxTransfers` (default 4). `false` offers
   * `rxmux.v1` only: whole frames, as with a server without them. Only
   * binary messages may exceed the server's `maxFrameBytes`: JSON is parsed
   * whole, so it is refused above it, chunked or not.
   *
   * @example
   * connect(url, { transfers: { maxMessageBytes: 32 * 1024 * 1024 } });
   */
  readonly transfers?: Partial<TransferLimits> | false;
  /** Default timeout of `channel.request()`, in ms. Default 30 000. */
  readonly requestTimeout?: number;
  /** `false` creates a separate connection instead of sharing the pooled one. Default `true`. */
  readonly shared?: boolean;
  /**
   * Options of the single EventSource (or long-poll loop) behind `events(conn, id)` (`@rxmux/core/events`):
   * `EventSource` and `fetch` implementations, `forceLongPoll`, `withCredentials`, timings.
   */
  readonly eventStream?: EventStreamOptions;
  /**
   * The debug tap. By default the connection registers with the rxmux
   * DevTools hook when one is installed (the extension installs it) and
   * allows no actions; `{ actions: true }` lets the panel drop the socket,
   * pause a channel or send a frame; `false` turns the tap off for good
   * (production builds: nothing is registered, `conn.debug()` throws).
   */
  readonly devtools?: boolean | { readonly actions?: boolean };
  /**
   * The credential sent in the first frame of every socket (never in the
   * URL): a string, or a function returning one (or a promise of one),
   * called before every connection attempt and again before the credentials
   * expire (when the server says they do) to refresh them on the live
   * connection. A provider that throws or rejects is retried with the
   * reconnect backoff. Refused credentials close the socket with 4401:
   * status `failed`, no retry loop; subscribing again (after a new login)
   * starts over.
   *
   * @example
   * connect(url, { token: () => auth.getAccessToken() });
   */
  readonly token?: string | TokenProvider;
}

/** Returns the current credential (a bearer token), or a promise of it. */
export type TokenProvider = () => string | Promise<string>;

/** A message the connection could not deliver, reported on `conn.dropped$`. */
export interface DroppedMessage {
  readonly channel: string;
  /** The encoded frame that was dropped. */
  readonly wire: string | Uint8Array;
  /**
   * `'overflow'` (buffer full, drop-oldest), `'failed'` (reconnect gave up),
   * `'closed'` (`conn.close()`), `'unconfirmed'` (written to a socket that
   * died before the server confirmed it, and the session could not be
   * resumed: it may or may not have arrived), or `'too-big'` (buffered while
   * offline, larger than the server that welcomed the client takes).
   */
  readonly reason: DropReason;
  /** The message id, when the message had asked for an ack (its ack Observable errors too). */
  readonly id?: number;
}

/** Every option of a connection, defaults applied and checked. @internal */
export interface ConnectionSettings {
  readonly WebSocket: WebSocketConstructor;
  readonly scheduler: SchedulerLike;
  readonly backoff: BackoffPolicy;
  readonly heartbeat: HeartbeatOptions | false;
  readonly random: () => number;
  readonly connectTimeout: number;
  readonly linger: number;
  readonly buffer: BufferOptions;
  readonly maxFrameBytes: number;
  readonly requestTimeout: number;
  /** What the client accepts of chunked transfers; `undefined`: it offers v1 only. */
  readonly transfers: TransferLimits | undefined;
  readonly eventStream: EventStreamOptions;
  /** `undefined`: no tap at all (`devtools: false`). */
  readonly devtools: { readonly actions: boolean } | undefined;
  readonly token: TokenProvider | undefined;
}

/** Applies the defaults and checks every number; API misuse throws `InvalidArgumentError` at once. @internal */
export function resolveOptions(options: ConnectOptions): ConnectionSettings {
  const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (ctor === undefined) {
    throw new InvalidArgumentError('no WebSocket constructor: pass { WebSocket } (in Node 20: import { WebSocket } from "ws")');
  }
  const scheduler = options.scheduler ?? asyncScheduler;
  const numbers = {
    connectTimeout: options.connectTimeout ?? 10_000,
    linger: options.linger ?? 1_000,
    maxFrameBytes: options.maxFrameBytes ?? 1024 * 1024,
    requestTimeout: options.requestTimeout ?? 30_000,
  };
  const backoff: BackoffPolicy = { ...DEFAULT_BACKOFF, ...options.reconnect };
  for (const [name, value] of Object.entries({ ...numbers, ...backoff })) {
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new InvalidArgumentError(`option ${name} must be a non-negative number, got ${String(value)}`);
    }
  }
  return {
    ...numbers,
    WebSocket: ctor,
    scheduler,
    backoff,
    heartbeat: options.heartbeat === false ? false : { ...DEFAULT_HEARTBEAT, ...options.heartbeat },
    random: options.random ?? Math.random,
    buffer: { ...DEFAULT_BUFFER, ...options.buffer },
    eventStream: { scheduler, linger: numbers.linger, ...options.eventStream },
    devtools: options.devtools === false ? undefined : { actions: typeof options.devtools === 'object' && options.devtools.actions === true },
    token: tokenProvider(options.token),
    transfers: transferOptions(options.transfers),
  };
}

function transferOptions(transfers: ConnectOptions['transfers']): TransferLimits | undefined {
  if (transfers === false) return undefined;
  const limits: TransferLimits = { ...DEFAULT_TRANSFER_LIMITS, ...transfers };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(`option transfers.${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return limits;
}

function tokenProvider(token: ConnectOptions['token']): TokenProvider | undefined {
  if (token === undefined) return undefined;
  if (typeof token === 'string') return () => token;
  if (typeof token === 'function') return token;
  throw new InvalidArgumentError('option token must be a string or a function returning one');
}
