/**
 * The protocol's own channels (`$rxmux.…`, PROTOCOL.md 14.1): a ticket
 * request on `$rxmux.ticket` is answered with a single-use ticket for the
 * SSE and long-poll endpoints; anything else on a reserved channel is
 * refused, as an app's channel refused by `authorize` would be.
 */
import { ErrorCode, TICKET_CHANNEL, type MessageFrame, type RequestFrame, type SubscribeFrame } from '@rxmux/core/protocol';
import { after } from '../awaitable.js';
import { TICKET_TTL_MS, type TicketStore } from '../tickets.js';
import type { SocketState } from './socket-session.js';
import type { Writer } from './writer.js';

/** What a frame on a reserved channel needs from its socket. */
export interface ReservedSocket<P> {
  readonly state: SocketState;
  readonly writer: Pick<Writer, 'error' | 'frame'>;
  readonly principal: P;
  readonly tickets: TicketStore<P>;
  /** One `message` envelope was taken (receipts count it like any other). */
  take(): void;
  error(error: unknown): void;
}

/** Answers a frame on a reserved channel; a promise while a ticket is being issued. */
export function reservedFrame<P>(socket: ReservedSocket<P>, frame: SubscribeFrame | MessageFrame | RequestFrame): Promise<void> | undefined {
  const refused = `${frame.channel} is reserved for the protocol`;
  if (frame.type === 'subscribe') {
    socket.writer.frame({ type: 'unsubscribed', channel: frame.channel, code: ErrorCode.Forbidden, reason: refused });
    return undefined;
  }
  if (frame.type === 'message') {
    socket.take(); // counted like any message taken (receipts)
    socket.writer.error(ErrorCode.Forbidden, refused, frame.channel, frame.id);
    return undefined;
  }
  if (frame.channel !== TICKET_CHANNEL) {
    socket.writer.frame({ type: 'request-error', id: frame.id, code: ErrorCode.Forbidden, message: refused });
    return undefined;
  }
  const { id } = frame;
  return after(
    socket.tickets.issue(socket.principal, TICKET_TTL_MS),
    (ticket) => {
      if (socket.state === 'open') socket.writer.frame({ type: 'response', id, data: { ticket, expiresIn: TICKET_TTL_MS } });
    },
    (error: unknown) => {
      socket.error(error);
      socket.writer.frame({ type: 'request-error', id, code: ErrorCode.Remote, message: 'no ticket could be issued' });
    },
  );
}
