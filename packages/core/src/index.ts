/**
 * `@rxmux/core`: one pooled WebSocket per page, multiplexed into RxJS channels.
 *
 * This entry point is the client API: `connect()`, the `Connection` and
 * `Channel` it hands out, their errors, codes and types. Server-sent
 * channels (`events`, `eventGaps`) are `@rxmux/core/events`, the wire codec
 * `@rxmux/core/protocol`, the debug vocabulary `@rxmux/core/debug`, the test
 * kit `@rxmux/core/testing`.
 *
 * @example
 * import { connect } from '@rxmux/core';
 * const conn = connect('wss://example.com/rt');
 * conn.channel('player-1').subscribe((beat) => render(beat));
 * @packageDocumentation
 */
export { connect } from './connection/pool.js';
export { Connection } from './connection/connection.js';
export type { ConnectOptions, DroppedMessage, TokenProvider } from './connection/options.js';
export { Channel, type ChannelState, type RequestOptions, type SendOptions } from './channel/channel.js';
export type { GapNotice } from './channel/positions.js';
export type { Ack, DropReason } from './connection/outbox.js';
export type { ConnectionStatus, StatusTransition } from './connection/status.js';
export type { BufferOptions, OverflowPolicy } from './connection/buffer.js';
export type { BackoffPolicy } from './operators/backoff.js';
export type { HeartbeatOptions } from './operators/heartbeat.js';
export type { CloseEventLike, MessageEventLike, WebSocketConstructor, WebSocketLike } from './transport/websocket.js';
export type { EventSourceConstructor, EventSourceLike, EventStreamOptions, FetchLike } from './sse/index.js';
export {
  AckTimeoutError,
  BufferFullError,
  ConnectionClosedError,
  ConnectionLostError,
  HeartbeatTimeoutError,
  InvalidArgumentError,
  ReconnectFailedError,
  RemoteError,
  RequestTimeoutError,
} from './errors.js';
export { ErrorCode, ProtocolError, RxmuxError, type ErrorCodeValue } from './protocol/errors.js';
export { CloseCode, type CloseCodeValue } from './protocol/close-codes.js';
export type { JsonSafe, JsonValue, Payload, TransferLimits } from './protocol/frames.js';
export type { DebugEvent } from './debug/events.js';
