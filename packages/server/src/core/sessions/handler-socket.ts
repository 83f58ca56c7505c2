/**
 * What the handlers of client frames (`acks.ts`, `requests.ts`,
 * `subscriptions.ts`) need from their socket, and what the socket needs from
 * the app's side: small interfaces, so each concern sees only its part.
 */
import type { Payload } from '@rxmux/core/protocol';
import type { ChannelAction, ChannelContext, ChannelHandler, ConnectionInfo } from '../../types.js';
import type { Hold } from '../quotas.js';
import type { ContextSocket } from './context.js';
import type { Session } from './session.js';
import type { SocketState } from './socket-session.js';
import type { Writer } from './writer.js';

/** What handlers of client frames (messages, requests, channels) need from their socket. */
export interface HandlerSocket<P> extends ContextSocket<P> {
  readonly state: SocketState;
  readonly session: Session<P> | undefined;
  readonly writer: Writer;
  /** Who is on this socket (presence member, hook info). */
  readonly info: ConnectionInfo<P>;
  /**
   * Runs `allowed` or `refused` after the app's `authorize`, or `gone` when the
   * socket left meanwhile. Returns a promise only when something was asynchronous.
   */
  authorized(channel: string, action: ChannelAction, allowed: () => Promise<void> | void, refused: () => void, gone?: () => void): Promise<void> | undefined;
  /** The app's handler of `channel`. */
  handler(channel: string): ChannelHandler<P> | undefined;
  /**
   * One more running request for this socket's address and principal, unless
   * either holds its cap (`limits.maxRequestsPerAddress`, `…PerPrincipal`):
   * the hold, or `undefined` when refused.
   */
  holdRequest(): Hold | undefined;
  /** The context handed to the handler's callbacks. */
  context(channel: string): ChannelContext<P>;
  /** Reports an error (to `hooks.onError`, with this socket's info). */
  error(error: unknown): void;
}

/** The app's side, as sockets see it. */
export interface AppHost<P> {
  resolve(channel: string): ChannelHandler<P> | undefined;
  /** Never rejects: a throwing or rejecting authorize counts as a refusal (and is reported). */
  authorize(principal: P, channel: string, action: ChannelAction): boolean | Promise<boolean>;
  publish(channel: string, data: Payload): void;
}
