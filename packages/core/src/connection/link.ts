import { asapScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { decodeBinary } from '../protocol/binary.js';
import { encodeBatch, encodeText } from '../protocol/codec.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { ChunkFrame, PeerLimits, ServerLimits, TransferFrame, TransferLimits } from '../protocol/frames.js';
import { bytesPerToken, delayFor, fullBucket, messageCost, refill, takeTokens, type BucketRate, type BucketState } from '../protocol/rate.js';
import { MAX_TRANSFER_HEADER_BYTES, pieceBytes, TransferReceiver, TransferSender, transferSource, type Reception, type TransferSource } from '../protocol/transfer.js';
import { utf8Length } from '../protocol/utf8.js';
import type { WebSocketLike } from '../transport/websocket.js';
import type { BufferedMessage } from './buffer.js';

const OPEN = 1;

/** Most envelopes in one batch the client writes (and accepts). @internal */
export const MAX_BATCH = 1024;

/**
 * Share of the announced rate and burst the client uses. The server's bucket
 * refills on its own clock when it reads a frame: frames that left here
 * spaced out can be read together (a busy server, a congested link), so the
 * client keeps a margin instead of spending the bucket to the last token.
 */
const RATE_MARGIN = 0.9;
const BURST_MARGIN = 0.75;

/** What the link may write: the server's limits within the client's own. @internal */
export interface LinkLimits {
  /** Longest batch in UTF-16 code units (at most the peer's `maxFrameBytes`, which the decoder counts in code units). */
  readonly maxFrameChars: number;
  /** The server's `maxFrameBytes` (what one whole frame may weigh, in UTF-8 bytes). */
  readonly serverFrameBytes: number;
  readonly maxBatch: number;
  /** The token bucket the server charges every message against; absent when it announced none. */
  readonly rate: BucketRate | undefined;
  /** How much of a message's size one token pays for (`bytesPerToken` of the server's limits). */
  readonly perToken: number;
}

/**
 * Chunked transfers on a v2 link (PROTOCOL.md 15): what the server accepts
 * (its welcome's transfer keys) and what the client does. @internal
 */
export interface LinkTransfers {
  readonly server: PeerLimits & TransferLimits;
  readonly own: TransferLimits;
  /** The last piece of a message was written: it counts as written now (receipts, acks). */
  readonly transferred: (item: BufferedMessage) => void;
}

/** The link limits for a server that announced `server` (or nothing) and a client accepting `maxFrameBytes`. @internal */
export function linkLimits(server: ServerLimits | undefined, maxFrameBytes: number): LinkLimits {
  return {
    serverFrameBytes: server?.maxFrameBytes ?? maxFrameBytes,
    // A third of the byte limit: a UTF-16 unit is at most 3 UTF-8 bytes, so no batch can exceed it in bytes either.
    maxFrameChars: Math.floor(Math.min(maxFrameBytes, server?.maxFrameBytes ?? maxFrameBytes) / 3),
    maxBatch: Math.min(MAX_BATCH, server?.maxBatch ?? MAX_BATCH),
    rate:
      server === undefined
        ? undefined
        : { rate: server.rate * RATE_MARGIN, burst: Math.max(1, Math.floor(server.burst * BURST_MARGIN)) },
    perToken: server === undefined ? Number.POSITIVE_INFINITY : bytesPerToken(server),
  };
}

/** A message's size as the server measures it: UTF-16 code units of text, bytes of binary. */
const sizeOf = (wire: string | Uint8Array): number => (typeof wire === 'string' ? wire.length : wire.byteLength);

/**
 * The write side of one welcomed socket. Text envelopes written during one
 * turn are coalesced into as few WebSocket messages as the limits allow (one,
 * usually), because a `send` costs a system call; binary frames go out in
 * order with them, each as its own message.
 *
 * Every message is paced to the token bucket the server announced (one
 * token per envelope, or per `perToken` of its size: `messageCost`), so the
 * server never has to refuse one: what the bucket cannot pay for now waits,
 * in order, and leaves as soon as tokens are there. Data frames (messages,
 * requests) are refused by {@link Link.write} while envelopes already wait
 * (the caller keeps them in its bounded buffer); control frames (subscribe,
 * pings, cancels) always queue, since they are few and must not be lost.
 *
 * On a v2 link, a message larger than a piece is a chunked transfer
 * ({@link transfer}): each write sends the small frames first (the credit
 * owed among them), then the pieces the server's window allows, each paced
 * like an envelope; the link also puts the server's transfers together
 * ({@link take}).
 * @internal
 */
export class Link {
  #pending: (string | Uint8Array)[] = [];
  #flush: Subscription | undefined;
  #closed = false;
  /** A data write was refused for want of budget: {@link onDrain} is owed once there is some. */
  #starved = false;
  readonly #bucket: BucketState | undefined;
  /** Outgoing transfers (v2 with a server that takes them). */
  readonly #sender: TransferSender<BufferedMessage> | undefined;
  /** Incoming transfers (v2). */
  readonly #receiver: TransferReceiver | undefined;

  constructor(
    private readonly socket: WebSocketLike,
    private readonly limits: LinkLimits,
    private readonly scheduler: SchedulerLike,
    /** Called when envelopes that waited for tokens are all written: refused data may be written again. */
    private readonly onDrain: () => void = () => undefined,
    /** Envelopes already charged on this socket before the link existed (the hello). */
    spent = 0,
    /** Every WebSocket message written, as written (the debug tap listens). */
    private readonly sent?: (wire: string | Uint8Array) => void,
    private readonly chunking?: LinkTransfers,
    private readonly flushScheduler: SchedulerLike = asapScheduler,
  ) {
    if (limits.rate !== undefined) {
      this.#bucket = fullBucket(limits.rate, scheduler.now());
      this.#bucket.tokens -= spent;
    }
    if (chunking !== undefined) {
      const { server, own } = chunking;
      this.#sender = new TransferSender(pieceBytes(server, own.chunkBytes), server.window, server.maxTransfers);
      this.#receiver = new TransferReceiver('publication', { ...own, timeoutMs: Number.POSITIVE_INFINITY });
    }
  }

  /** Whether the link speaks chunked transfers (v2, and the server announced what it takes). */
  get chunked(): boolean {
    return this.#sender !== undefined;
  }

  /**
   * Whether the server takes `item` at all: bytes on a v2 link up to its
   * `maxMessageBytes`; JSON, and anything on v1, one frame up to its
   * `maxFrameBytes`.
   */
  carries(item: BufferedMessage): boolean {
    const max = largestMessage(item, this.limits.serverFrameBytes, this.#sender === undefined ? undefined : this.chunking?.server.maxMessageBytes);
    return payloadBytes(item, max) <= max;
  }

  /** Whether `item` travels as a chunked transfer here: a message larger than a piece, on a v2 link. */
  transfers(item: BufferedMessage): boolean {
    return this.#sender !== undefined && item.kind === 'message' && item.bytes > this.#sender.piece;
  }

  /**
   * Starts `item` as a chunked transfer: its pieces leave as the server's
   * window allows, after each write's small frames; `transferred` is called
   * when its last piece is written. Returns false when the link is closed.
   * Its channel must have no unfinished transfer (the caller keeps the order).
   */
  transfer(item: BufferedMessage): boolean {
    if (this.closed || this.#sender === undefined) return false;
    this.#sender.start(sourceOf(item), item);
    this.#schedule();
    return true;
  }

  /** A `credit` from the server: more pieces may leave. */
  credited(bytes: number): void {
    if (this.#sender === undefined) return;
    this.#sender.credit(bytes);
    if (this.#sender.size > 0) this.#schedule();
  }

  /**
   * An `abort` from the server for the transfer on `channel`: an unfinished
   * one is abandoned (an abandoning chunk when pieces left) and its message
   * returned; `undefined` when its last piece was written already (a refused
   * message: an `error` answers it) or there is none.
   */
  refused(channel: string): BufferedMessage | undefined {
    const dropped = this.#sender?.drop(channel);
    if (dropped === undefined) return undefined;
    if (dropped.abandon !== undefined) this.write(dropped.abandon, true);
    return dropped.token;
  }

  /** Gives up `item`'s transfer, if it is unfinished on this link (its ack timed out): an abandoning chunk when pieces left. */
  abandon(item: BufferedMessage): void {
    if (this.#sender?.token(item.channel) !== item) return;
    this.refused(item.channel);
  }

  /**
   * A piece of the server's transfer: what it amounts to ({@link Reception};
   * `undefined` on a link without transfers, where it is unexpected). The
   * credit owed goes out with the next write.
   */
  take(frame: TransferFrame | ChunkFrame): Reception | 'unexpected' {
    if (this.#receiver === undefined) return 'unexpected';
    const reception = this.#receiver.take(frame, this.scheduler.now());
    this.#schedule();
    return reception;
  }

  /** Whether the socket is gone or the link was closed. */
  get closed(): boolean {
    return this.#closed || this.socket.readyState !== OPEN;
  }

  /**
   * Queues an encoded frame for this turn's write. Returns false, queueing
   * nothing, when the link is closed or its socket no longer open (a close
   * handshake in progress, in which a browser would discard the frame), or,
   * for data (`control` false), while the rate budget is spent: the caller
   * keeps the frame and writes it again after {@link onDrain}.
   */
  write(wire: string | Uint8Array, control = false): boolean {
    if (this.closed) return false;
    if (!control && !this.#hasBudget(wire)) {
      this.#starved = true;
      if (this.#flush === undefined) this.#wait();
      return false;
    }
    this.#pending.push(wire);
    this.#schedule();
    return true;
  }

  /**
   * Writes whatever is queued, now, as far as the rate budget allows; the
   * rest leaves when tokens are there. Then the pieces of the transfers, as
   * far as the window and the budget allow.
   */
  flush(): void {
    if (!this.#flushQueue()) return;
    const sender = this.#sender;
    while (sender?.ready === true) {
      // A piece is charged as the server charges any message: by its size (messageCost), like the envelopes before it.
      const cost = messageCost(1, sender.nextBytes + MAX_TRANSFER_HEADER_BYTES, this.limits.perToken);
      if (this.#bucket !== undefined && !takeTokens(this.#bucket, cost, this.scheduler.now(), this.limits.rate as BucketRate)) {
        this.#wait(cost);
        return;
      }
      const piece = sender.next();
      if (piece === undefined) break;
      this.socket.send(piece.wire);
      this.sent?.(piece.wire);
      if (piece.done !== undefined) this.chunking?.transferred(piece.done);
      if (this.closed) return;
    }
  }

  /** Writes the queue (the credit owed first); false when the link is closed or the budget ran out (a paced flush is scheduled). */
  #flushQueue(): boolean {
    this.#flush?.unsubscribe();
    this.#flush = undefined;
    if (this.closed) return false;
    const credit = this.#receiver?.takeCredit() ?? 0;
    if (credit > 0) this.#pending.unshift(encodeText({ type: 'credit', bytes: credit }));
    while (this.#pending.length > 0) {
      const count = this.#nextMessage();
      if (count === 0) {
        this.#wait();
        return false;
      }
      const head = this.#pending[0] as string | Uint8Array;
      const message = typeof head === 'string' ? encodeBatch(this.#pending.splice(0, count) as string[]) : (this.#pending.shift() as Uint8Array);
      this.socket.send(message);
      this.sent?.(message);
    }
    if (!this.#starved) return true;
    if (!this.#hasBudget(undefined)) {
      this.#wait();
      return false;
    }
    this.#starved = false;
    this.onDrain();
    return !this.closed;
  }

  #schedule(): void {
    this.#flush ??= this.flushScheduler.schedule(() => {
      this.#flush = undefined;
      this.flush();
    });
  }

  /** Closes the socket as a lost link would be (a debugger's "drop": the connection reconnects and resumes). */
  drop(reason: string): void {
    if (!this.closed) this.socket.close(CloseCode.HeartbeatTimeout, reason);
  }

  /** Stops writing; queued frames (not the pieces of transfers) are flushed first when `flush` is true (as far as the budget allows). */
  close(flush: boolean): void {
    if (flush) this.#flushQueue();
    this.#flush?.unsubscribe();
    this.#flush = undefined;
    this.#pending = [];
    this.#closed = true;
    this.#receiver?.clear();
  }

  /**
   * Whether a data frame may queue now: nothing waits for tokens, and what is
   * queued plus `wire` fits this turn's budget (estimated as one message).
   */
  #hasBudget(wire: string | Uint8Array | undefined): boolean {
    const bucket = this.#bucket;
    if (bucket === undefined) return true;
    let size = wire === undefined ? 0 : sizeOf(wire);
    for (const queued of this.#pending) size += sizeOf(queued) + 1;
    const cost = messageCost(this.#pending.length + 1, size, this.limits.perToken);
    return delayFor(bucket, cost, this.scheduler.now(), this.limits.rate as BucketRate) === 0;
  }

  /**
   * How many envelopes from the head of the queue make the next WebSocket
   * message (1 for a binary frame), charged to the bucket as the server
   * charges it (`messageCost`); 0 when the bucket cannot pay for one yet.
   */
  #nextMessage(): number {
    const pending = this.#pending;
    const head = pending[0] as string | Uint8Array;
    const bucket = this.#bucket;
    const rate = this.limits.rate as BucketRate;
    if (bucket !== undefined) refill(bucket, this.scheduler.now(), rate);
    const affordable = (envelopes: number, size: number): boolean => bucket === undefined || messageCost(envelopes, size, this.limits.perToken) <= bucket.tokens;
    let count = 1;
    let size = sizeOf(head); // a batch of one travels bare
    if (!affordable(1, size)) return 0;
    if (typeof head === 'string') {
      let chars = head.length + 2; // a batch: [e1,e2,…]
      while (count < pending.length && count < this.limits.maxBatch) {
        const next = pending[count];
        if (typeof next !== 'string' || chars + next.length + 1 > this.limits.maxFrameChars) break;
        if (!affordable(count + 1, chars + next.length + 1)) break;
        chars += next.length + 1;
        count++;
      }
      if (count > 1) size = chars;
    }
    if (bucket !== undefined) bucket.tokens -= messageCost(count, size, this.limits.perToken);
    return count;
  }

  /** Schedules the next paced flush for when the head message, the next piece (`next`), or one more token can be paid for. */
  #wait(next?: number): void {
    const bucket = this.#bucket as BucketState;
    const burst = this.limits.rate?.burst ?? 1;
    const head = this.#pending[0];
    const cost = head === undefined ? (next ?? 1) : messageCost(1, sizeOf(head), this.limits.perToken);
    const delay = delayFor(bucket, Math.min(Math.max(cost, Math.floor(bucket.tokens) + 1), burst), this.scheduler.now(), this.limits.rate as BucketRate);
    this.#flush = this.scheduler.schedule(() => {
      this.#flush = undefined;
      this.flush();
    }, Math.max(1, delay));
  }
}

const utf8 = new TextEncoder();

/**
 * The largest `item` a peer takes: a binary message up to `messageBytes`
 * when chunked transfers carry it (v2); JSON, which the receiver parses
 * whole, and anything without transfers, one frame of `frameBytes`. The one
 * rule for the check at send time and the link's. @internal
 */
export function largestMessage(item: BufferedMessage, frameBytes: number, messageBytes: number | undefined): number {
  return item.kind === 'message' && messageBytes !== undefined && typeof item.wire !== 'string' ? messageBytes : frameBytes;
}

/** The bytes a message weighs on the wire: a binary frame's, a text envelope's in UTF-8 (counted exactly only when it could exceed `limit`). @internal */
export function payloadBytes(item: BufferedMessage, limit: number): number {
  const wire = item.wire;
  if (typeof wire !== 'string') return wire.byteLength;
  return wire.length * 3 <= limit ? wire.length : utf8Length(wire);
}

/** A message as a transfer: a binary message's data (with its id), or a JSON one's whole text envelope in UTF-8. */
function sourceOf(item: BufferedMessage): TransferSource {
  const id = item.id === undefined ? {} : { id: item.id };
  if (typeof item.wire === 'string') return transferSource({ kind: 'message', channel: item.channel, text: true, ...id }, utf8.encode(item.wire));
  const frame = decodeBinary(item.wire, { maxFrameBytes: Number.POSITIVE_INFINITY }).frames[0];
  const data = frame?.type === 'message' && frame.data instanceof Uint8Array ? frame.data : item.wire; // always a binary message: we encoded it
  return transferSource({ kind: 'message', channel: item.channel, ...id }, data);
}
