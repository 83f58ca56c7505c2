/**
 * `@rxmux/server`: the Node server for protocol v1 and v2 (chunked
 * transfers; on `ws`), with channel routing, auth, limits, heartbeat, SSE and
 * long-poll endpoints, and engines.
 *
 * `createServer` composes three parts that also stand alone: the HTTP door
 * and routes, the server core (`createServerCore`, no `ws` in it: an adapter
 * hands it open sockets), and the `ws` adapter.
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
  AddressUsage,
  AuthenticatedServerOptions,
  BaseServerOptions,
  ChannelAction,
  ChannelContext,
  ChannelHandler,
  ConnectionInfo,
  CoreOptions,
  MessageContext,
  RequestContext,
  RequestResult,
  RxmuxServer,
  ServerHooks,
  ServerMetrics,
  ServerOptions,
} from './types.js';
export { DEFAULT_HEARTBEAT, DEFAULT_LIMITS, type Heartbeat, type Limits } from './limits.js';
export {
  ENGINE_UNAVAILABLE,
  type Awaitable,
  type ChannelPosition,
  type Engine,
  type EnginePublication,
  type EngineSink,
  type EngineStatus,
  type EngineUsage,
  type HistoryResult,
  type PresenceEvent,
  type PresenceMember,
} from './engines/engine.js';
export { MemoryEngine, type MemoryEngineOptions } from './engines/memory.js';
export { ENTRY_OVERHEAD, heldBytes, StoredPublication } from './engines/encoded.js';
export { createServerCore, type CoreMetrics, type CoreState, type ServerCore } from './core/server-core.js';
export { SharedMessage, type SocketAuth, type SocketHandle, type Transport } from './core/transport.js';
export { withExpiry, type Authenticate, type Expiring, type Verified, type Verify } from './credentials.js';
export { MemoryTicketStore, TICKET_TTL_MS, type TicketStore } from './core/tickets.js';
export { MemorySessionStore, type OpenedSession, type SessionStore, type SessionUsage } from './core/sessions/session-store.js';
export type { Session, SessionSocket } from './core/sessions/session.js';
export type { Seen } from './core/sessions/dedupe.js';
export { PendingRequest } from './core/sessions/requests.js';
export { extractToken, type TokenSources } from './http/token.js';
export { addressKey, peerAddress, type ClientAddress } from './http/address.js';
export type { ChannelError } from './http/channels.js';
export type { PollEvent, StreamPublication } from '@rxmux/core/protocol';
/**
 * The WebSocket subprotocols and protocol versions the server speaks:
 * `rxmux.v1` (1), and `rxmux.v2` (2, chunked transfers) unless `transfers: false`.
 */
export { SUBPROTOCOL, PROTOCOL_VERSION, TRANSFER_SUBPROTOCOL, TRANSFER_VERSION } from '@rxmux/core/protocol';
