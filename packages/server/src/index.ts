/**
 * `@rxmux/server`: the Node server for protocol v1 (on `ws`), with channel
 * routing, auth, limits, heartbeat, SSE and long-poll endpoints, and engines.
 *
 * @example
 * import { createServer } from '@rxmux/server';
 * const server = createServer({ port: 8080 });
 * server.handle('chat-*', { onMessage: (ctx, data) => ctx.publish(data) });
 * setInterval(() => server.publish('clock', Date.now()), 1000);
 * @packageDocumentation
 */
export { createServer } from './server.js';
export type {
  ChannelAction,
  ChannelContext,
  ChannelHandler,
  ConnectionInfo,
  MessageContext,
  RequestContext,
  RequestResult,
  RxmuxServer,
  ServerHooks,
  ServerMetrics,
  ServerOptions,
} from './types.js';
export { DEFAULT_HEARTBEAT, DEFAULT_LIMITS, type Heartbeat, type Limits } from './limits.js';
export type {
  Awaitable,
  Engine,
  EnginePublication,
  EngineSink,
  HistoryResult,
  PresenceEvent,
  PresenceMember,
} from './engines/engine.js';
export { MemoryEngine, type MemoryEngineOptions } from './engines/memory.js';
export { extractToken, type TokenSources } from './http.js';
export type { ChannelError } from './sse.js';
export type { PollEvent, StreamPublication } from '@rxmux/core/protocol';
/** The WebSocket subprotocol (`rxmux.v1`) and protocol version the server speaks. */
export { SUBPROTOCOL, PROTOCOL_VERSION } from '@rxmux/core/protocol';
