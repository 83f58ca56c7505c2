/**
 * `@rxmux/core`: one pooled WebSocket per page, multiplexed into RxJS channels.
 *
 * @example
 * import { connect } from '@rxmux/core';
 * const conn = connect('wss://example.com/rt');
 * conn.channel('player-1').subscribe((beat) => render(beat));
 * @packageDocumentation
 */
export { connect } from './connection/pool.js';
export { Connection } from './connection/connection.js';
export type { ConnectOptions, DroppedMessage } from './connection/connection.js';
export { Channel, type ChannelState, type RequestOptions, type SendOptions } from './channel/channel.js';
export type { GapNotice } from './channel/positions.js';
export type { Ack, DropReason } from './connection/outbox.js';
export type { ConnectionStatus, StatusTransition } from './connection/status.js';
export { canTransition } from './connection/status.js';
export type { BufferOptions, OverflowPolicy } from './connection/buffer.js';
export { DEFAULT_BUFFER } from './connection/buffer.js';
export type { CloseEventLike, MessageEventLike, WebSocketConstructor, WebSocketLike } from './transport/websocket.js';
export { backoffDelay, backoffTimer, DEFAULT_BACKOFF, type BackoffPolicy } from './operators/backoff.js';
export { DEFAULT_HEARTBEAT, heartbeat, type HeartbeatOptions } from './operators/heartbeat.js';
export { linger } from './operators/linger.js';
export * from './sse/index.js';
export * from './errors.js';
export * from './protocol/index.js';
export { DEBUG_PROTOCOL_VERSION, DEVTOOLS_HOOK_KEY } from './debug/events.js';
export type {
  DebugAckEvent,
  DebugAction,
  DebugBinary,
  DebugChannelEvent,
  DebugConnectionEvent,
  DebugDisposedEvent,
  DebugDropEvent,
  DebugErrorEvent,
  DebugEvent,
  DebugEventBase,
  DebugFrameEvent,
  DebugGapEvent,
  DebugRequestEvent,
  DebugStatusEvent,
  DebugStreamEvent,
  DebugTap,
  DebugTransport,
  DevtoolsHook,
} from './debug/events.js';
