/**
 * The debug tap's vocabulary: what a {@link Connection} reports to a
 * debugger (the rxmux DevTools extension, or an app's own logger), and the
 * page hook through which a debugger finds connections.
 *
 * Plain data only (structured-clone safe: no functions, no class instances,
 * no `Uint8Array`: binary payloads are summarized as {@link DebugBinary}), so events cross `window.postMessage` and the
 * extension runtime unchanged. Tokens and other credentials never appear in
 * an event.
 *
 * ```
 *  page:  Connection ──tap──▶ hook (globalThis[Symbol.for('rxmux.devtools')]) ──postMessage──▶ content script
 *                                                  ▲ buffers (bounded) until a debugger listens
 * ```
 * @packageDocumentation
 */
import type { FrameTypeName, JsonValue } from '../protocol/frames.js';
import type { ConnectionStatus } from '../connection/status.js';

/** The version of this vocabulary: a debugger reads {@link DebugTap.version} before it trusts an event's shape. */
export const DEBUG_PROTOCOL_VERSION = 1;

/** Which transport a frame or event travelled on. */
export type DebugTransport = 'ws' | 'sse' | 'poll';

/** The first bytes of a binary payload, for display. */
export interface DebugBinary {
  /** Payload length in bytes. */
  readonly length: number;
  /** Hex of the first bytes (at most 64), lowercase, no separators. */
  readonly head: string;
}

/** Where a chunked transfer stands after one of its pieces (protocol v2). */
export interface DebugTransfer {
  /** Bytes of the payload sent or received so far, this piece included. */
  readonly received: number;
  /** Bytes of the whole payload (0 when the piece alone cannot tell: a `chunk` seen without its `transfer`). */
  readonly size: number;
  /** The sender gave the transfer up: it is no message. */
  readonly abandoned?: true;
}

/** Fields every debug event has. */
export interface DebugEventBase {
  /** The connection's debug id (unique in the page, stable for its lifetime). */
  readonly conn: string;
  /** Wall-clock time of the event, `Date.now()` ms. */
  readonly at: number;
}

/** A connection was created (or found by a debugger that attached late). */
export interface DebugConnectionEvent extends DebugEventBase {
  readonly type: 'connection';
  /** The WebSocket URL (query string removed). */
  readonly url: string;
  /** Whether the tap accepts actions ({@link DebugAction}) for this connection. */
  readonly actions: boolean;
}

/** A status transition, with its cause. */
export interface DebugStatusEvent extends DebugEventBase {
  readonly type: 'status';
  readonly from: ConnectionStatus;
  readonly to: ConnectionStatus;
  readonly attempt?: number;
  readonly retryIn?: number;
  readonly code?: number;
  readonly reason?: string;
  /** On a transition to `'open'`: whether the server resumed the session (a reconnect that lost nothing the server kept). */
  readonly resumed?: boolean;
}

/**
 * One frame in or out. For SSE and long-poll, `frame` names the event
 * (`'publication'`, `'reset'`, `'channel-error'`, `'ready'`).
 */
export interface DebugFrameEvent extends DebugEventBase {
  readonly type: 'frame';
  readonly dir: 'in' | 'out';
  readonly transport: DebugTransport;
  readonly frame: FrameTypeName | 'ready' | 'reset' | 'channel-error';
  /** The channel: the frame's own, or for a `response`, `request-error`, `ack` or `cancel` the channel of the request or message it answers. */
  readonly channel?: string;
  /** Size on the wire in bytes (its share of a batch for batched envelopes). */
  readonly bytes: number;
  /** The decoded JSON payload (`data` of message, publication, request, response). */
  readonly data?: JsonValue;
  /** A binary payload's length and first bytes. */
  readonly binary?: DebugBinary;
  /** A piece of a chunked transfer (`transfer`, `chunk` frames): how far the transfer is. */
  readonly transfer?: DebugTransfer;
  readonly seq?: number;
  readonly epoch?: string;
  /** Message or request id. */
  readonly id?: number;
  /** Error and request-error code, gap reason. */
  readonly code?: string;
}

/**
 * A channel was joined, confirmed, left, or paused and resumed by a
 * debugger. A `listen()` starts with the channels as they stand: `'join'`
 * for each joined channel, then `'joined'` for those the server confirmed,
 * then `'paused'` for those a debugger paused.
 */
export interface DebugChannelEvent extends DebugEventBase {
  readonly type: 'channel';
  readonly channel: string;
  /** `'ws'` for `conn.channel()`, `'sse'` or `'poll'` for `events(conn, id)`. */
  readonly transport: DebugTransport;
  /**
   * `'join'`: first subscriber, subscribe sent (for `events()`: the channel
   * entered the stream's channel set); `'joined'`: the server confirmed
   * (`subscribed`; for `events()`: named by the stream's `ready`, or answered
   * by a poll); `'leave'`: the last subscriber left (after the linger);
   * `'paused'` / `'resumed'`: a debugger paused or resumed its delivery.
   */
  readonly action: 'join' | 'joined' | 'leave' | 'paused' | 'resumed';
  /** Local subscribers after the change (for `events()`: the stream's references to the channel). */
  readonly subscribers: number;
}

/**
 * The connection's event stream (`events(conn, id)`: its one EventSource, or
 * its long-poll loop) changed state. A `listen()` starts with its current
 * state when it is not `'closed'`.
 */
export interface DebugStreamEvent extends DebugEventBase {
  readonly type: 'stream';
  readonly transport: 'sse' | 'poll';
  /**
   * `'connecting'`: opening, or the EventSource reconnecting by itself;
   * `'open'`: the server's `ready` (SSE) or a poll answered; `'retrying'`:
   * failed, next try in `retryIn` ms; `'closed'`: no channel needs it;
   * `'failed'`: refused for good (`code`).
   */
  readonly state: 'connecting' | 'open' | 'retrying' | 'closed' | 'failed';
  /** Channels in the stream. */
  readonly channels: number;
  readonly retryIn?: number;
  /** Why it is retrying or failed (an `RXMUX_ERR_*` code). */
  readonly code?: string;
}

/** A request ended: answered, failed, timed out or cancelled. */
export interface DebugRequestEvent extends DebugEventBase {
  readonly type: 'request';
  readonly channel: string;
  readonly id: number;
  /** Milliseconds from the first send to the end. */
  readonly latency: number;
  readonly outcome: 'response' | 'error' | 'timeout' | 'cancelled';
  readonly code?: string;
}

/** An acknowledged send was acked (or refused). */
export interface DebugAckEvent extends DebugEventBase {
  readonly type: 'ack';
  readonly channel: string;
  readonly id: number;
  readonly latency: number;
  readonly outcome: 'acked' | 'refused' | 'timeout';
  readonly code?: string;
}

/** Messages lost for good on a channel (the app got a gap notice). */
export interface DebugGapEvent extends DebugEventBase {
  readonly type: 'gap';
  readonly channel: string;
  readonly transport: DebugTransport;
  readonly reason: string;
  readonly since?: number;
  readonly seq: number;
  readonly epoch?: string;
}

/** A message the client could not deliver (what `conn.dropped$` reports). */
export interface DebugDropEvent extends DebugEventBase {
  readonly type: 'drop';
  readonly channel: string;
  readonly reason: string;
  readonly bytes: number;
  readonly id?: number;
}

/** A problem reported on `conn.errors$` or on a channel. */
export interface DebugErrorEvent extends DebugEventBase {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
  readonly channel?: string;
}

/** The connection was closed for good (`conn.close()`): it reports nothing more and its tap is unregistered. */
export interface DebugDisposedEvent extends DebugEventBase {
  readonly type: 'disposed';
}

/**
 * Everything the tap reports. Discriminated by `type`. Within one
 * {@link DEBUG_PROTOCOL_VERSION} new event types may be added: a debugger
 * ignores a `type` it does not know.
 */
export type DebugEvent =
  | DebugConnectionEvent
  | DebugStatusEvent
  | DebugFrameEvent
  | DebugChannelEvent
  | DebugStreamEvent
  | DebugRequestEvent
  | DebugAckEvent
  | DebugGapEvent
  | DebugDropEvent
  | DebugErrorEvent
  | DebugDisposedEvent;

/**
 * What a debugger may ask a connection to do, when its tap allows actions
 * (`connect(url, { devtools: { actions: true } })`). Every action shows in
 * the event stream.
 */
export type DebugAction =
  /** Drop the socket as a network loss would (watch reconnect and resume). */
  | { readonly type: 'drop' }
  /** Stop delivering one channel's messages to its subscribers (they are held, in order). */
  | { readonly type: 'pause'; readonly channel: string }
  /** Deliver what was held and go on. */
  | { readonly type: 'resume'; readonly channel: string }
  /** Send a message on a channel, as `channel.send(data)` would. */
  | { readonly type: 'send'; readonly channel: string; readonly data: JsonValue };

/** One connection as the hook sees it. */
export interface DebugTap {
  /** The vocabulary's version ({@link DEBUG_PROTOCOL_VERSION}). */
  readonly version: number;
  /** The connection's debug id (the `conn` of its events). */
  readonly id: string;
  readonly url: string;
  /** Whether {@link DebugTap.act} does anything. */
  readonly actions: boolean;
  /**
   * Starts reporting to `listener` (the current state first: a `connection`
   * event, the current status, joined channels). Returns a function that stops it.
   * rxmux's own taps load their recorder's code on the first listen: until it
   * is there, events wait in order with their times (see `preloadDebugTap`).
   */
  listen(listener: (event: DebugEvent) => void): () => void;
  /** Runs a debugger action; ignored (with an `error` event) when actions are not allowed. */
  act(action: DebugAction): void;
}

/**
 * The page hook a debugger installs before the app runs, at
 * `globalThis[Symbol.for('rxmux.devtools')]`. Every connection created while
 * it is present (and not created with `devtools: false`) registers itself,
 * and calls the function `register` returned (if any) when it is closed for
 * good, after its `disposed` event.
 */
export interface DevtoolsHook {
  register(tap: DebugTap): (() => void) | undefined;
}

/** The global key of the {@link DevtoolsHook}. */
export const DEVTOOLS_HOOK_KEY: unique symbol = Symbol.for('rxmux.devtools');
