/**
 * What a hello's limits agree to: the frame size and batch the server writes
 * to that client (the client's frame size; a batch within both sides'
 * limits), and, on v2, the terms of chunked
 * transfers. Clients of one app announce the same limits, so each distinct
 * set is agreed once and its objects are shared by every socket that
 * announced it (read-only), instead of two or three objects per connection.
 * At most {@link MAX_KEPT} sets are kept: a client announcing yet another
 * gets objects of its own.
 */
import { DEFAULT_DECODE_LIMITS, transferLimitsOf, type PeerLimits } from '@rxmux/core/protocol';
import type { Limits } from '../../limits.js';
import { transferTerms, type TransferTerms } from './transfers.js';

/** The smallest frame size a client may ask for in `hello.limits` (a hostile tiny value only hurts itself, but stays sane). */
const MIN_PEER_FRAME_BYTES = 1024;

/** Distinct sets of limits kept (the same app's clients announce one; a hostile client cannot grow the table). */
const MAX_KEPT = 64;

/** What one set of announced limits agrees to. */
export interface Agreement {
  /** What the server writes to the client: the client's frame size, a batch within both sides' limits. */
  readonly peer: PeerLimits;
  /** Chunked transfers' terms: on v2, when the client announced what it accepts. */
  readonly transfers: TransferTerms | undefined;
}

/** The agreements of one server, by the limits announced. */
export class Agreements {
  readonly #kept = new Map<string, Agreement>();
  /** What a socket has agreed to before its hello, and after a hello without limits: what every decoder takes by default (PROTOCOL.md 5.2). */
  readonly silent: Agreement;

  constructor(private readonly own: Limits) {
    this.silent = this.of(DEFAULT_DECODE_LIMITS, false);
  }

  /** What `limits` (a hello's) agree to; `transfers`: the hello is v2, so its transfer keys count. */
  of(limits: PeerLimits, transfers: boolean): Agreement {
    const accepts = transfers ? transferLimitsOf(limits) : undefined;
    const key = accepts === undefined
      ? `${limits.maxFrameBytes}/${limits.maxBatch}`
      : `${limits.maxFrameBytes}/${limits.maxBatch}/${accepts.chunkBytes}/${accepts.window}/${accepts.maxMessageBytes}/${accepts.maxTransfers}`;
    const kept = this.#kept.get(key);
    if (kept !== undefined) return kept;
    const own = this.own;
    const peer: PeerLimits = {
      // The client's own bound: the server's `maxFrameBytes` bounds what it parses, not what it writes.
      maxFrameBytes: Math.max(MIN_PEER_FRAME_BYTES, limits.maxFrameBytes),
      maxBatch: Math.min(own.maxBatch, limits.maxBatch),
    };
    // v2: chunked transfers when the client announced what it accepts (without, whole frames as in v1).
    const agreement: Agreement = { peer, transfers: accepts === undefined ? undefined : transferTerms({ ...accepts, ...peer }, own) };
    if (this.#kept.size < MAX_KEPT) this.#kept.set(key, agreement);
    return agreement;
  }
}
