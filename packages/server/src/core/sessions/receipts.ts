/**
 * Receipts (PROTOCOL.md 6.6): the server counts the session's `message`
 * envelopes once it has taken them (handled, refused, or recognised as a
 * duplicate) and reports the count, so a client knows which plain sends a
 * dying socket swallowed. A receipt rides with whatever the socket writes
 * next; it goes out on its own once {@link RECEIPT_EVERY} messages are
 * unreceipted, or after {@link RECEIPT_DELAY_MS} (one timer for all sockets),
 * whichever comes first, and with every heartbeat ping.
 */
import { encodeText } from '@rxmux/core/protocol';
import type { Session } from './session.js';
import { writable, type Writer } from './writer.js';
import type { SocketState } from './socket-session.js';

/** Unreceipted messages after which a receipt goes out on its own. */
export const RECEIPT_EVERY = 16;

/** Longest a receipt waits for another write to ride with. */
export const RECEIPT_DELAY_MS = 100;

/** What the receipt rules need from a socket. */
export interface ReceiptSocket {
  readonly state: SocketState;
  readonly session: Session<unknown> | undefined;
  readonly writer: Writer;
  /** The `received` count of the last receipt (or welcome) this socket sent. */
  receipted: number;
}

/** One short timer for every socket owing a receipt. */
export class ReceiptClock {
  private due = new Set<ReceiptSocket>();
  private timer: NodeJS.Timeout | undefined;

  /** `socket` owes a receipt: it is sent within {@link RECEIPT_DELAY_MS} unless another write carries it first. */
  owe(socket: ReceiptSocket): void {
    this.due.add(socket);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const due = this.due;
      this.due = new Set();
      for (const s of due) sendReceipt(s);
    }, RECEIPT_DELAY_MS);
  }

  /** Shutdown: nothing more is owed. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due.clear();
  }
}

/**
 * One `message` envelope of the session was taken. A message whose socket
 * went away before this point is not counted, so the client re-sends it.
 */
export function taken(socket: ReceiptSocket, clock: ReceiptClock): void {
  const session = socket.session;
  if (session === undefined) return;
  const unreceipted = session.take() - socket.receipted;
  if (unreceipted >= RECEIPT_EVERY) sendReceipt(socket);
  else if (unreceipted === 1) clock.owe(socket);
}

/** Makes sure a write happens this turn when a receipt is owed (the flush appends it, see {@link receiptEnvelope}). */
export function sendReceipt(socket: ReceiptSocket): void {
  if (socket.session === undefined || socket.session.received === socket.receipted) return;
  socket.writer.touch();
}

/** The receipt envelope to send with this write, if the count moved since the last one. */
export function receiptEnvelope(socket: ReceiptSocket): string | undefined {
  const received = socket.session?.received;
  if (received === undefined || received === socket.receipted || !writable(socket.state)) return undefined;
  socket.receipted = received;
  return encodeText({ type: 'receipt', received });
}
