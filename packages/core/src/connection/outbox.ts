import { AsyncSubject, BehaviorSubject, distinctUntilChanged, type Observable, type Subscriber, type Subscription } from 'rxjs';
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

/**
 * Why a message was dropped (see `conn.dropped$`): `'overflow'` (the offline
 * buffer was full, drop-oldest), `'failed'` (reconnecting gave up),
 * `'closed'` (`conn.close()` with the message still buffered), or
 * `'unconfirmed'` (it was written to a socket that died before the server
 * confirmed it, and the server did not resume the session: it may or may not
 * have arrived), or `'too-big'` (it waited offline and the server that
 * welcomed the client takes less: its `maxMessageBytes`, or `maxFrameBytes`
 * without chunked transfers).
 */
export type DropReason = 'overflow' | 'failed' | 'closed' | 'unconfirmed' | 'too-big';

/** A frame with an id that waits for its answer (an ack, or a response). */
type InFlight =
  | {
      readonly kind: 'message';
      readonly item: BufferedMessage;
      /** Write order of its last write (undefined: not written yet). */
      written: number | undefined;
      readonly ack: AsyncSubject<Ack>;
      /** The pending ack timeout, if the send asked for one. */
      expiry?: Subscription;
    }
  | { readonly kind: 'request'; readonly item: BufferedMessage; written: number | undefined; readonly subscriber: Subscriber<JsonValue> };

/** A plain message written to a socket and not yet covered by a receipt. */
interface Unconfirmed {
  /** Its position among the session's messages: receipts and `welcome.received` count these. */
  readonly ordinal: number;
  /** Write order (to re-send in the original order with the in-flight frames). */
  readonly written: number;
  readonly item: BufferedMessage;
}

/**
 * Everything the client has to send, in order: the offline buffer (frames not
 * yet written), the in-flight table (frames with an id, written or not, that
 * wait for an ack or a response), and the plain messages written but not yet
 * confirmed by the server's cumulative receipt.
 *
 * ```
 *  send ──▶ buffer (no link, or the link's rate budget is spent) ──▶ link ──▶ socket
 *             │ bounded, drop-oldest reported                        │
 *             ▼                                                      ▼
 *        in-flight (id) until ack / response          unconfirmed (plain) until receipt
 * ```
 *
 * After a socket is lost, the next welcome says how many of the session's
 * messages the server took (`received`): the plain messages after it are
 * re-sent with the in-flight frames, in their original order, then the
 * buffer. A welcome that did not resume the session cannot say: those plain
 * messages are reported on `dropped$` as `'unconfirmed'`.
 *
 * Ordering rule: the buffer only fills while nothing can be written, and
 * drains before anything new is written, so every frame written precedes
 * every frame still buffered. One exception keeps a channel's order without
 * holding up the others (chunked transfers, PROTOCOL.md 15.6): while a
 * channel's message travels in pieces, that channel's later sends wait in the
 * buffer, and the others' go on past them. A chunked message counts as
 * written (its ordinal, its place among the re-sends) once its last piece is
 * written; until then it is re-sent whole after a lost socket.
 * @internal
 */
export class Outbox {
  readonly #buffer: OfflineBuffer;
  readonly #inflight = new Map<number, InFlight>();
  #unconfirmed: Unconfirmed[] = [];
  /** Messages handed to a link as chunked transfers whose last piece is not written yet, by channel (one per channel), oldest first. */
  readonly #transfers = new Map<string, BufferedMessage>();
  /** Messages of this session written so far (the ordinal of the next one is this + 1). */
  #sent = 0;
  /** Write counter: orders in-flight and unconfirmed frames for a re-send. */
  #writes = 0;
  /** Whether the server sends receipts (it said `received` in its welcome); without, nothing is kept for them. */
  #receipts = false;
  #messages = 0;
  readonly #busy = new BehaviorSubject(false);
  /**
   * Whether something needs the socket ({@link busy}), as a stream: the
   * connection holds the socket open while it reads true (and lingers after).
   */
  readonly busy$: Observable<boolean> = this.#busy.pipe(distinctUntilChanged());

  constructor(
    options: BufferOptions,
    private readonly onDrop: (item: BufferedMessage, reason: DropReason) => void,
    /** Gives up a chunked message whose pieces may be on the wire (it was withdrawn). */
    private readonly onAbandon: (item: BufferedMessage) => void = () => undefined,
  ) {
    this.#buffer = new OfflineBuffer(options);
  }

  /** Whether something still needs the socket: buffered frames, messages awaiting their ack, their receipt, or the rest of their pieces. */
  get busy(): boolean {
    return this.#buffer.size > 0 || this.#messages > 0 || this.#unconfirmed.length > 0 || this.#transfers.size > 0;
  }

  /**
   * Writes `item` to the link, or queues it when there is none (or it cannot
   * take it now, or its channel's chunked message is still under way).
   * Throws `BufferFullError` under the `'error'` policy.
   */
  send(item: BufferedMessage, link: Link | undefined): void {
    try {
      if (this.#buffer.size === 0 && link !== undefined && !this.#transfers.has(item.channel) && this.#write(item, link)) return;
      const result = this.#buffer.push(item);
      if ('refused' in result) {
        const entry = item.id === undefined ? undefined : this.#inflight.get(item.id);
        if (entry !== undefined) this.#delete(item.id as number, entry);
        throw new BufferFullError(result.refused);
      }
      for (const evicted of result.evicted) this.#drop(evicted, 'overflow');
      // Only waiting behind a transfer of its channel, or for the budget: the rest goes on past it.
      if (link !== undefined && this.#transfers.size > 0) this.#drainInto(link);
    } finally {
      this.#changed();
    }
  }

  /** The last piece of `item`, a chunked message, was written on `link`: it counts as written now, and its channel's later sends go on. */
  transferred(item: BufferedMessage, link: Link): void {
    if (this.#transfers.get(item.channel) !== item) return;
    this.#transfers.delete(item.channel);
    this.#written(item);
    this.#drainInto(link);
    this.#changed();
  }

  /**
   * The server refused `item`, a chunked message not yet written whole
   * (`abort`): it is withdrawn, its ack (if it asked for one) errors with
   * `error`. Returns false when it was a plain message (the caller reports).
   */
  refusedTransfer(item: BufferedMessage, error: Error, link: Link): boolean {
    if (this.#transfers.get(item.channel) !== item) return true;
    this.#transfers.delete(item.channel);
    const entry = item.id === undefined ? undefined : this.#inflight.get(item.id);
    if (entry?.kind === 'message') {
      this.#delete(item.id as number, entry);
      entry.ack.error(error);
    }
    this.#drainInto(link);
    this.#changed();
    return entry !== undefined;
  }

  /** Tracks a message that wants an ack; returns what `send(…, { ack: true })` hands back. */
  expectAck(id: number, item: BufferedMessage): Observable<Ack> {
    try {
      const ack = new AsyncSubject<Ack>();
      this.#inflight.set(id, { kind: 'message', item, written: undefined, ack });
      this.#messages++;
      return ack.asObservable();
    } finally {
      this.#changed();
    }
  }

  /** Arms the ack timeout of message `id` (the subscription is cancelled when the message settles). */
  expireWith(id: number, expiry: Subscription): void {
    const entry = this.#inflight.get(id);
    if (entry?.kind === 'message') entry.expiry = expiry;
    else expiry.unsubscribe();
  }

  /** Message `id` waited too long for its ack: withdrawn from the buffer, the table and its transfer, its ack errors. */
  expire(id: number, error: Error): void {
    try {
      const entry = this.#inflight.get(id);
      if (entry?.kind !== 'message') return;
      this.#delete(id, entry);
      this.#buffer.remove(id);
      if (this.#transfers.get(entry.item.channel) === entry.item) {
        this.#transfers.delete(entry.item.channel);
        this.onAbandon(entry.item);
      }
      entry.ack.error(error);
    } finally {
      this.#changed();
    }
  }

  /** Tracks a request until its response. */
  expectResponse(id: number, item: BufferedMessage, subscriber: Subscriber<JsonValue>): void {
    this.#inflight.set(id, { kind: 'request', item, written: undefined, subscriber });
  }

  /** Forgets a request (cancelled or timed out). Returns whether it was written (a cancel is then owed). */
  forget(id: number): boolean {
    try {
      const entry = this.#inflight.get(id);
      if (entry === undefined) return false;
      this.#delete(id, entry);
      this.#buffer.remove(id); // never written: nothing to send, nothing to cancel later
      return entry.written !== undefined;
    } finally {
      this.#changed();
    }
  }

  /** An ack arrived. Unknown ids (a duplicate ack) are ignored. */
  acked(id: number): void {
    try {
      const entry = this.#inflight.get(id);
      if (entry?.kind !== 'message') return;
      this.#delete(id, entry);
      entry.ack.next({ id });
      entry.ack.complete();
    } finally {
      this.#changed();
    }
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
    try {
      const entry = this.#inflight.get(id);
      if (entry?.kind !== 'message') return false;
      this.#delete(id, entry);
      entry.ack.error(error);
      return true;
    } finally {
      this.#changed();
    }
  }

  /** A receipt: the server took the session's first `received` messages. */
  receipted(received: number): void {
    this.#confirm(received);
    this.#changed();
  }

  /**
   * A new socket was welcomed. `received` is how many of the session's
   * messages the server has taken (`undefined`: a server without receipts),
   * `resumed` whether it kept the session. Re-sends, in their original order,
   * every in-flight frame written to an earlier socket and every plain
   * message the server did not take, then flushes the buffer (in order).
   */
  welcomed(link: Link, resumed: boolean, received: number | undefined): void {
    try {
      let lost: Unconfirmed[] = [];
      if (resumed && received !== undefined) {
        this.#confirm(received);
        lost = this.#unconfirmed;
      } else {
        // A new session cannot tell which of them arrived: say so rather than guess.
        for (const entry of this.#unconfirmed) this.onDrop(entry.item, 'unconfirmed');
      }
      this.#unconfirmed = [];
      this.#receipts = received !== undefined;
      this.#sent = resumed && received !== undefined ? received : 0;
      const again: { readonly written: number; readonly item: BufferedMessage }[] = [...lost];
      for (const entry of this.#inflight.values()) if (entry.written !== undefined) again.push({ written: entry.written, item: entry.item });
      again.sort((a, b) => a.written - b.written);
      for (let i = 0; i < again.length; i++) {
        const { item } = again[i] as (typeof again)[number];
        if (this.#write(item, link, true)) continue;
        // The socket went away meanwhile. In-flight frames keep their place in the table; plain messages
        // not written again were certainly not received: the next resume re-sends them whatever it counts.
        for (const rest of again.slice(i)) {
          if (rest.item.kind === 'message' && rest.item.id === undefined) this.#unconfirmed.push({ ordinal: Number.POSITIVE_INFINITY, written: rest.written, item: rest.item });
        }
        return;
      }
      // Chunked messages whose last piece was not written: whole again, from their first byte, before what was buffered after them.
      const unfinished = [...this.#transfers.values()];
      this.#transfers.clear();
      for (const item of unfinished) {
        if (!this.#transfers.has(item.channel) && !this.#write(item, link, true)) this.#transfers.set(item.channel, item);
      }
      this.#drainInto(link);
    } finally {
      this.#changed();
    }
  }

  /** Writes buffered frames, in order, as long as the link takes them (after a welcome, or when its rate budget is back). */
  drain(link: Link): void {
    this.#drainInto(link);
    this.#changed();
  }

  /** Ends everything: buffered frames are reported dropped, everything in flight errors with `error`. */
  failAll(error: Error, reason: DropReason): void {
    try {
      const inflight = [...this.#inflight];
      for (const [id, entry] of inflight) this.#delete(id, entry);
      for (const item of this.#transfers.values()) this.onDrop(item, reason);
      this.#transfers.clear();
      for (const item of this.#buffer.drain()) this.onDrop(item, reason);
      // Written, never confirmed: with the session gone for good nobody can tell whether they arrived.
      for (const entry of this.#unconfirmed) this.onDrop(entry.item, 'unconfirmed');
      this.#unconfirmed = [];
      for (const [, entry] of inflight) {
        if (entry.kind === 'message') entry.ack.error(error);
        else entry.subscriber.error(error);
      }
    } finally {
      this.#changed();
    }
  }

  /**
   * Hands the frame to the link and records where it stands. A data frame
   * that must go now whatever the rate budget (a re-send after a welcome) is
   * written as control; it was charged when first written. A message larger
   * than a piece becomes a chunked transfer: written once its last piece is.
   * One the server does not take at all is dropped (`'too-big'`).
   */
  #write(item: BufferedMessage, link: Link, force = false): boolean {
    if (!link.carries(item)) {
      this.#drop(item, 'too-big');
      return true;
    }
    if (link.transfers(item)) {
      if (!link.transfer(item)) return false;
      this.#transfers.set(item.channel, item);
      return true;
    }
    if (!link.write(item.wire, force)) return false;
    this.#written(item);
    return true;
  }

  /** `item` was written: its write order, its ordinal among the session's messages, its place among what a resume re-sends. */
  #written(item: BufferedMessage): void {
    const written = ++this.#writes;
    if (item.kind === 'message') {
      const ordinal = ++this.#sent;
      if (item.id === undefined && this.#receipts) this.#unconfirmed.push({ ordinal, written, item });
    }
    const entry = item.id === undefined ? undefined : this.#inflight.get(item.id);
    if (entry !== undefined) entry.written = written;
  }

  #confirm(received: number): void {
    let confirmed = 0;
    while (confirmed < this.#unconfirmed.length && (this.#unconfirmed[confirmed] as Unconfirmed).ordinal <= received) confirmed++;
    if (confirmed > 0) this.#unconfirmed = this.#unconfirmed.slice(confirmed);
  }

  #drainInto(link: Link): void {
    // What the link refuses stays in front: it calls back (onDrain) when it can take more. What waits
    // for its channel's chunked message keeps its place; the other channels go on past it.
    this.#buffer.takeWhile(
      (item) => this.#write(item, link),
      (channel) => this.#transfers.has(channel),
    );
  }

  /** Tells `busy$` after every change (a subscriber may start or stop the socket: called last, once the state is whole). */
  #changed(): void {
    const busy = this.busy;
    if (busy !== this.#busy.value) this.#busy.next(busy);
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
