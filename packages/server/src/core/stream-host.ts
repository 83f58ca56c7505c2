/**
 * What the SSE and long-poll endpoints (`http/`) get from the server core:
 * the channels, history, tickets, caps and presence they share with the
 * WebSocket side, and the shutdown and heartbeat they are part of.
 */
import type { Awaitable, ChannelPosition, HistoryResult, PresenceMember } from '../engines/engine.js';
import type { Limits } from '../limits.js';
import type { ChannelAction, ConnectionInfo } from '../types.js';
import type { Backlog } from './backlog.js';
import type { Subscriber } from './hub.js';
import type { Hold } from './quotas.js';

/** Something the core must end on shutdown and pings every heartbeat: an SSE stream, a held poll. */
export interface Endable {
  end(code: number, reason: string): void;
  ping(): void;
}

/** What the SSE and long-poll endpoints need from the core. */
export interface StreamHost<P> {
  readonly limits: Limits;
  /** Never rejects: a throwing or rejecting authorize counts as a refusal (and is reported). */
  authorize(principal: P, channel: string, action: ChannelAction): boolean | Promise<boolean>;
  /** Live delivery of `channel` to `subscriber` starts; returns when, if that is still to come (read the history after it). */
  subscribe(channel: string, subscriber: Subscriber): Awaitable<void>;
  unsubscribe(channel: string, subscriber: Subscriber): void;
  position(channel: string): Awaitable<ChannelPosition>;
  history(channel: string, since: number, limit: number): Awaitable<HistoryResult>;
  /** The principal of a single-use ticket (`undefined`: unknown, used or expired). */
  redeem(ticket: string): Awaitable<P | undefined>;
  /** A new single-use ticket for `principal` (a poll answer carries the next poll's). */
  ticket(principal: P): Awaitable<string>;
  /**
   * One more SSE stream (`'streams'`) or long-poll (`'polls'`) for this
   * address and principal, unless either holds its cap: the hold, or
   * `undefined` when refused (HTTP 429).
   */
  hold(kind: 'streams' | 'polls', address: string | undefined, principal: P): Hold | undefined;
  /** Whether a stream may join `channel`: it has subscribers already, or the server has room for one more (`limits.maxChannels`). */
  hasRoom(channel: string): boolean;
  /** Presence. */
  join(channel: string, member: PresenceMember<P>): void;
  leave(channel: string, session: string): void;
  /** A stream started (SSE: `info`; a held poll: none): counted, pinged, ended on shutdown. */
  opened(stream: Endable, info: ConnectionInfo<P> | undefined): void;
  ended(stream: Endable, info: ConnectionInfo<P> | undefined, code: number, reason: string): void;
  /** An SSE stream (`info`) or a poll answer (none) was cut as a slow consumer. */
  slowConsumer(info: ConnectionInfo<P> | undefined, buffered: number): void;
  /** The slow-consumer rule every stream and poll answer writes through. */
  readonly backlog: Backlog;
  error(error: unknown, info?: ConnectionInfo<P>): void;
}
