import { AsyncSubject, type Observable, type Subscriber, type Subscription } from 'rxjs';
import type { JsonValue } from '../protocol/frames.js';
import { ErrorCode, RxmuxError } from '../protocol/errors.js';
import { BufferFullError } from '../errors.js';
import { OfflineBuffer, type BufferedMessage, type BufferOptions } from './buffer.js';
import type { Link } from './link.js';

/** What `send(data, { ack: true })` emits once the server acknowledged the message. */
export interface Ack {
  /** The message id the server acknowledged. */
  readonly id: number;
}

/** Why a message was dropped (see `conn.dropped$`). */
export type DropReason = 'overflow' | 'failed' | 'closed';

/** A frame with an id that waits for its answer (an ack, or a response). */
type InFlight =
  | {
      readonly kind: 'message';
      readonly wire: string | Uint8Array;
      written: boolean;
      readonly ack: AsyncSubject<Ack>;
      /** The pending ack timeout, if the send asked for one. */
      expiry?: Subscription;
    }
  | { readonly kind: 'request'; readonly wire: string; written: boolean; readonly subscriber: Subscriber<JsonValue> };

/**
 * Everything the client has to send, in order: the offline buffer (frames not
 * yet written) and the in-flight table (frames with an id, written or not,
 * that wait for an ack or a response).
 *
 * Ordering rule, which the re-send after a reconnect relies on: every
 * in-flight frame already written precedes every frame still in the buffer,
 * because the buffer only fills while no socket is open.
 */
export class Outbox {
  readonly #buffer: OfflineBuffer;
  readonly #inflight = new Map<number, InFlight>();
  #messages = 0;

  constructor(
    options: BufferOptions,
    private readonly onDrop: (item: BufferedMessage, reason: DropReason) => void,
  ) {
    this.#buffer = new OfflineBuffer(options);
  }

  /** Whether something still needs the socket: buffered frames or messages awaiting their ack. */
  get busy(): boolean {
    return this.#buffer.size > 0 || this.#messages > 0;
  }

  /** Writes `item` to the link, or queues it when there is none. Throws `BufferFullError` under the `'error'` policy. */
  send(item: BufferedMessage, link: Link | undefined): void {
    if (link?.write(item.wire) === true) {
      this.#markWritten(item.id);
      return;
    }
    const result = this.#buffer.push(item);
    if ('refused' in result) {
      const entry = item.id === undefined ? undefined : this.#inflight.get(item.id);
      if (entry !== undefined) this.#delete(item.id as number, entry);
      throw new BufferFullError(result.refused);
    }
    for (const evicted of result.evicted) this.#drop(evicted, 'overflow');
  }

  /** Tracks a message that wants an ack; returns what `send(…, { ack: true })` hands back. */
  expectAck(id: number, wire: string | Uint8Array): Observable<Ack> {
    const ack = new AsyncSubject<Ack>();
    this.#inflight.set(id, { kind: 'message', wire, written: false, ack });
    this.#messages++;
    return ack.asObservable();
  }

  /** Arms the ack timeout of message `id` (the subscription is cancelled when the message settles). */
  expireWith(id: number, expiry: Subscription): void {
    const entry = this.#inflight.get(id);
    if (entry?.kind === 'message') entry.expiry = expiry;
    else expiry.unsubscribe();
  }

  /** Message `id` waited too long for its ack: withdrawn from the buffer and the table, its ack errors. */
  expire(id: number, error: Error): void {
    const entry = this.#inflight.get(id);
    if (entry?.kind !== 'message') return;
    this.#delete(id, entry);
    this.#buffer.remove(id);
    entry.ack.error(error);
  }

  /** Tracks a request until its response. */
  expectResponse(id: number, wire: string, subscriber: Subscriber<JsonValue>): void {
    this.#inflight.set(id, { kind: 'request', wire, written: false, subscriber });
  }

  /** Forgets a request (cancelled or timed out). Returns whether it was still waiting. */
  forget(id: number): boolean {
    const entry = this.#inflight.get(id);
    if (entry === undefined) return false;
    this.#delete(id, entry);
    this.#buffer.remove(id); // never written: nothing to send, nothing to cancel later
    return entry.written;
  }

  /** An ack arrived. Unknown ids (a duplicate ack) are ignored. */
  acked(id: number): void {
    const entry = this.#inflight.get(id);
    if (entry?.kind !== 'message') return;
    this.#delete(id, entry);
    entry.ack.next({ id });
    entry.ack.complete();
  }

  /** A response or request-error arrived. Returns false when nothing waits for it. */
  answered(id: number, outcome: { readonly data: JsonValue } | { readonly error: Error }): boolean {
    const entry = this.#inflight.get(id);
    if (entry?.kind !== 'request') return false;
    this.#delete(id, entry);
    if ('error' in outcome) entry.subscriber.error(outcome.error);
    else {
      entry.subscriber.next(outcome.data);
      entry.subscriber.complete();
    }
    return true;
  }

  /** An error frame named this message id: its ack errors. Returns false when nothing waits for it. */
  refused(id: number, error: Error): boolean {
    const entry = this.#inflight.get(id);
    if (entry?.kind !== 'message') return false;
    this.#delete(id, entry);
    entry.ack.error(error);
    return true;
  }

  /**
   * A new socket was welcomed: re-send every in-flight frame that was written
   * to an earlier socket (original order), then flush the buffer (in order).
   */
  resend(link: Link): void {
    for (const entry of this.#inflight.values()) if (entry.written) link.write(entry.wire);
    const items = this.#buffer.drain();
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as BufferedMessage;
      if (!link.write(item.wire)) {
        this.#buffer.restore(items.slice(i)); // the socket went away meanwhile: keep the rest, in order
        return;
      }
      this.#markWritten(item.id);
    }
  }

  /** Ends everything: buffered frames are reported dropped, everything in flight errors with `error`. */
  failAll(error: Error, reason: DropReason): void {
    const inflight = [...this.#inflight];
    for (const [id, entry] of inflight) this.#delete(id, entry);
    for (const item of this.#buffer.drain()) this.onDrop(item, reason);
    for (const [, entry] of inflight) {
      if (entry.kind === 'message') entry.ack.error(error);
      else entry.subscriber.error(error);
    }
  }

  #markWritten(id: number | undefined): void {
    const entry = id === undefined ? undefined : this.#inflight.get(id);
    if (entry !== undefined) entry.written = true;
  }

  #drop(item: BufferedMessage, reason: DropReason): void {
    const entry = item.id === undefined ? undefined : this.#inflight.get(item.id);
    if (entry !== undefined && item.id !== undefined) {
      this.#delete(item.id, entry);
      const error = new RxmuxError(ErrorCode.MessageDropped, `message ${item.id} on "${item.channel}" dropped (${reason})`);
      if (entry.kind === 'message') entry.ack.error(error);
      else entry.subscriber.error(error);
    }
    this.onDrop(item, reason);
  }

  #delete(id: number, entry: InFlight): void {
    this.#inflight.delete(id);
    if (entry.kind === 'message') {
      this.#messages--;
      entry.expiry?.unsubscribe();
    }
  }
}
