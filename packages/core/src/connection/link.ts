import { asapScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { encodeBatch } from '../protocol/codec.js';
import type { WebSocketLike } from './transport.js';

const OPEN = 1;

/** Most envelopes in one batch (the server's default `maxBatch` is 1024). */
const MAX_BATCH = 1024;

/**
 * The write side of one welcomed socket. Text envelopes written during one
 * turn are coalesced into as few WebSocket messages as the limits allow (one,
 * usually), because a `send` costs a system call; binary frames go out
 * immediately after whatever text was queued before them, so order is kept.
 */
export class Link {
  #pending: string[] = [];
  #pendingChars = 0;
  #flush: Subscription | undefined;
  #closed = false;

  constructor(
    private readonly socket: WebSocketLike,
    /** Longest batch in UTF-16 code units; a third of the byte limit, so a batch can never exceed it in UTF-8. */
    private readonly maxFrameChars: number,
    private readonly flushScheduler: SchedulerLike = asapScheduler,
  ) {}

  /**
   * Queues an encoded frame. Returns false, writing nothing, when the link is
   * closed or its socket is no longer open (a close handshake in progress, in
   * which a browser would discard the frame silently): the caller keeps it.
   */
  write(wire: string | Uint8Array): boolean {
    if (this.#closed || this.socket.readyState !== OPEN) return false;
    if (typeof wire !== 'string') {
      this.flush();
      this.socket.send(wire);
      return true;
    }
    if (this.#pendingChars + wire.length + 2 > this.maxFrameChars || this.#pending.length >= MAX_BATCH) this.flush();
    this.#pending.push(wire);
    this.#pendingChars += wire.length + 1;
    this.#flush ??= this.flushScheduler.schedule(() => {
      this.#flush = undefined;
      this.flush();
    });
    return true;
  }

  /** Sends whatever text is queued, now. */
  flush(): void {
    this.#flush?.unsubscribe();
    this.#flush = undefined;
    if (this.#pending.length === 0 || this.#closed || this.socket.readyState !== OPEN) return;
    const batch = encodeBatch(this.#pending);
    this.#pending = [];
    this.#pendingChars = 0;
    this.socket.send(batch);
  }

  /** Stops writing; queued frames are flushed first when `flush` is true. */
  close(flush: boolean): void {
    if (flush) this.flush();
    this.#flush?.unsubscribe();
    this.#flush = undefined;
    this.#pending = [];
    this.#closed = true;
  }
}
