/**
 * Token buckets per client address, with the protocol's token bucket: one
 * table rule (the most recently used addresses only, so it stays bounded
 * whatever the input) for the two budgets an address has at the HTTP side.
 *
 * - {@link AuthThrottle}: every failed authentication (a 401, a refused hello
 *   or refresh, an unknown ticket) takes a token; an address whose bucket is
 *   empty is refused before `authenticate` runs (HTTP 429, WebSocket close
 *   1013) until it has earned one back. Successes cost nothing.
 * - {@link ReplayBudget}: every byte of history replayed to an SSE stream or
 *   a long-poll answer takes a token; a replay the bucket cannot pay for
 *   waits until it can. A stale cursor costs the server the bytes it sends,
 *   at most `replayBytesPerSecond` per address however fast the client reads.
 */
import { delayFor, fullBucket, refill, takeTokens, type BucketRate, type BucketState } from '@rxmux/core/protocol';

/** Addresses whose buckets are remembered at most (the least recently used is forgotten first). */
export const THROTTLED_ADDRESSES = 10_000;

/** A bucket per address, the least recently used forgotten first (a forgotten address starts full again). */
class AddressBuckets {
  private readonly buckets = new Map<string, BucketState>();

  constructor(
    readonly rate: BucketRate,
    private readonly max: number,
    readonly now: () => number,
  ) {}

  /** The address's bucket, refilled, if it has one. */
  peek(address: string): BucketState | undefined {
    const bucket = this.buckets.get(address);
    if (bucket !== undefined) refill(bucket, this.now(), this.rate);
    return bucket;
  }

  /** The address's bucket, refilled (a new one full), as the most recently used. */
  use(address: string): BucketState {
    const now = this.now();
    let bucket = this.buckets.get(address);
    if (bucket === undefined) {
      if (this.buckets.size >= this.max) this.buckets.delete(this.buckets.keys().next().value as string);
      bucket = fullBucket(this.rate, now);
    } else {
      this.buckets.delete(address); // re-inserted: Map order is recency of use
      refill(bucket, now, this.rate);
    }
    this.buckets.set(address, bucket);
    return bucket;
  }
}

/** The failed-authentication buckets of one server. */
export class AuthThrottle {
  private readonly table: AddressBuckets;
  /** Requests refused because their address was throttled (`server.metrics().authThrottled`). */
  refused = 0;

  constructor(rate: BucketRate, max = THROTTLED_ADDRESSES, now: () => number = Date.now) {
    this.table = new AddressBuckets(rate, max, now);
  }

  /** Whether `address` may try to authenticate now (counted as refused when not). */
  allows(address: string | undefined): boolean {
    const bucket = address === undefined ? undefined : this.table.peek(address);
    if (bucket === undefined || bucket.tokens >= 1) return true;
    this.refused++;
    return false;
  }

  /** `address` failed to authenticate: one token less. */
  failed(address: string | undefined): void {
    if (address === undefined) return;
    const bucket = this.table.use(address);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }
}

/** The replay buckets of one server: bytes of history per address, `rate` per second, `burst` at once. */
export class ReplayBudget {
  private readonly table: AddressBuckets;
  /** Times a replay waited for its address's budget (`server.metrics().replayWaits`). */
  waits = 0;

  constructor(rate: BucketRate, max = THROTTLED_ADDRESSES, now: () => number = Date.now) {
    this.table = new AddressBuckets(rate, max, now);
  }

  /**
   * Takes `bytes` of replay from `address`'s bucket: 0 when it paid, else the
   * milliseconds until it can (nothing taken). An event larger than the
   * burst costs the burst, so every event is sent eventually. An address
   * that is not known (`undefined`) is not counted.
   */
  take(address: string | undefined, bytes: number): number {
    if (address === undefined) return 0;
    const cost = Math.min(bytes, this.table.rate.burst);
    const bucket = this.table.use(address);
    const now = this.table.now();
    if (takeTokens(bucket, cost, now, this.table.rate)) return 0;
    this.waits++;
    return Math.max(1, Math.ceil(delayFor(bucket, cost, now, this.table.rate)));
  }
}
