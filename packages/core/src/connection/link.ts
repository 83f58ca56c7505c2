import { asapScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { encodeBatch } from '../protocol/codec.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { ServerLimits } from '../protocol/frames.js';
import { bytesPerToken, delayFor, fullBucket, messageCost, refill, type BucketRate, type BucketState } from '../protocol/rate.js';
import type { WebSocketLike } from '../transport/websocket.js';

const OPEN = 1;

/** Most envelopes in one batch the client writes (and accepts). */
export const MAX_BATCH = 1024;

/**
 * Share of the announced rate and burst the client uses. The server's bucket
 * refills on its own clock when it reads a frame: frames that left here
 * spaced out can be read together (a busy server, a congested link), so the
 * client keeps a margin instead of spending the bucket to the last token.
 */
const RATE_MARGIN = 0.9;
const BURST_MARGIN = 0.75;

/** What the link may write: the server's limits within the client's own. */
export interface LinkLimits {
  /** Longest batch in UTF-16 code units (at most the peer's `maxFrameBytes`, which the decoder counts in code units). */
  readonly maxFrameChars: number;
  readonly maxBatch: number;
  /** The token bucket the server charges every message against; absent when it announced none. */
  readonly rate: BucketRate | undefined;
  /** How much of a message's size one token pays for (`bytesPerToken` of the server's limits). */
  readonly perToken: number;
}

/** The link limits for a server that announced `server` (or nothing) and a client accepting `maxFrameBytes`. */
export function linkLimits(server: ServerLimits | undefined, maxFrameBytes: number): LinkLimits {
  return {
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
 */
export class Link {
  #pending: (string | Uint8Array)[] = [];
  #flush: Subscription | undefined;
  #closed = false;
  /** A data write was refused for want of budget: {@link onDrain} is owed once there is some. */
  #starved = false;
  readonly #bucket: BucketState | undefined;

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
    private readonly flushScheduler: SchedulerLike = asapScheduler,
  ) {
    if (limits.rate !== undefined) {
      this.#bucket = fullBucket(limits.rate, scheduler.now());
      this.#bucket.tokens -= spent;
    }
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
    this.#flush ??= this.flushScheduler.schedule(() => {
      this.#flush = undefined;
      this.flush();
    });
    return true;
  }

  /** Writes whatever is queued, now, as far as the rate budget allows; the rest leaves when tokens are there. */
  flush(): void {
    this.#flush?.unsubscribe();
    this.#flush = undefined;
    if (this.closed) return;
    while (this.#pending.length > 0) {
      const count = this.#nextMessage();
      if (count === 0) {
        this.#wait();
        return;
      }
      const head = this.#pending[0] as string | Uint8Array;
      const message = typeof head === 'string' ? encodeBatch(this.#pending.splice(0, count) as string[]) : (this.#pending.shift() as Uint8Array);
      this.socket.send(message);
      this.sent?.(message);
    }
    if (!this.#starved) return;
    if (!this.#hasBudget(undefined)) {
      this.#wait();
      return;
    }
    this.#starved = false;
    this.onDrain();
  }

  /** Closes the socket as a lost link would be (a debugger's "drop": the connection reconnects and resumes). */
  drop(reason: string): void {
    if (!this.closed) this.socket.close(CloseCode.HeartbeatTimeout, reason);
  }

  /** Stops writing; queued frames are flushed first when `flush` is true (as far as the budget allows). */
  close(flush: boolean): void {
    if (flush) this.flush();
    this.#flush?.unsubscribe();
    this.#flush = undefined;
    this.#pending = [];
    this.#closed = true;
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

  /** Schedules the next paced flush for when the head message (or one more token) can be paid for. */
  #wait(): void {
    const bucket = this.#bucket as BucketState;
    const burst = this.limits.rate?.burst ?? 1;
    const head = this.#pending[0];
    const cost = head === undefined ? 1 : messageCost(1, sizeOf(head), this.limits.perToken);
    const delay = delayFor(bucket, Math.min(Math.max(cost, Math.floor(bucket.tokens) + 1), burst), this.scheduler.now(), this.limits.rate as BucketRate);
    this.#flush = this.scheduler.schedule(() => {
      this.#flush = undefined;
      this.flush();
    }, Math.max(1, delay));
  }
}
