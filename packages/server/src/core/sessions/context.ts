/**
 * The context a handler's callbacks get (`onMessage`, `onRequest`,
 * `onSubscribe`, …): plain fields, and methods made on first read, bound
 * (destructuring `{ publish }` works), so a handler that calls none of them
 * costs no closure. One is built per frame on the hot paths (every message,
 * every request).
 */
import type { Payload } from '@rxmux/core/protocol';
import type { ChannelContext, MessageContext } from '../../types.js';

/** What a context needs from its socket. */
export interface ContextSocket<P> {
  readonly id: string;
  readonly principal: P;
  /** The app's `publish` on `channel`. */
  publishTo(channel: string, data: Payload): void;
  /** `data` as a publication of `channel` to this socket only. */
  sendTo(channel: string, data: Payload): void;
}

/** {@link ChannelContext} of one socket and channel. */
export class HandlerContext<P> implements ChannelContext<P> {
  readonly session: string;
  readonly principal: P;
  readonly #socket: ContextSocket<P>;
  #publish: ((data: Payload) => void) | undefined;
  #send: ((data: Payload) => void) | undefined;

  constructor(
    socket: ContextSocket<P>,
    readonly channel: string,
  ) {
    this.#socket = socket;
    this.session = socket.id;
    this.principal = socket.principal;
  }

  get publish(): (data: Payload) => void {
    return (this.#publish ??= (data) => this.#socket.publishTo(this.channel, data));
  }

  get send(): (data: Payload) => void {
    return (this.#send ??= (data) => this.#socket.sendTo(this.channel, data));
  }
}

/** {@link MessageContext}: the channel's context and the message's id. */
export class MessageHandlerContext<P> extends HandlerContext<P> implements MessageContext<P> {
  constructor(
    socket: ContextSocket<P>,
    channel: string,
    readonly id: number | undefined,
  ) {
    super(socket, channel);
  }
}
