/**
 * Failed authentications throttled per client address, with the protocol's
 * token bucket: every failure (a 401, a refused hello or refresh, an
 * unknown ticket) takes a token; an address whose bucket is empty is
 * refused before `authenticate` runs (HTTP 429, WebSocket close 1013) until
 * it has earned one back. Successes cost nothing. The table keeps the most
 * recently failing addresses only, so it stays bounded whatever the input.
 */
import { fullBucket, refill, type BucketRate, type BucketState } from '@rxmux/core/protocol';

/** Addresses whose failures are remembered at most (the least recently failing is forgotten first). */
export const THROTTLED_ADDRESSES = 10_000;

/** The failed-authentication buckets of one server. */
export class AuthThrottle {
  private readonly buckets = new Map<string, BucketState>();
  /** Requests refused because their address was throttled (`server.metrics().authThrottled`). */
  refused = 0;

  constructor(
    private readonly rate: BucketRate,
    private readonly max = THROTTLED_ADDRESSES,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `address` may try to authenticate now (counted as refused when not). */
  allows(address: string | undefined): boolean {
    const bucket = address === undefined ? undefined : this.buckets.get(address);
    if (bucket === undefined) return true;
    refill(bucket, this.now(), this.rate);
    if (bucket.tokens >= 1) return true;
    this.refused++;
    return false;
  }

  /** `address` failed to authenticate: one token less. */
  failed(address: string | undefined): void {
    if (address === undefined) return;
    const now = this.now();
    let bucket = this.buckets.get(address);
    if (bucket === undefined) {
      if (this.buckets.size >= this.max) this.buckets.delete(this.buckets.keys().next().value as string);
      bucket = fullBucket(this.rate, now);
    } else {
      this.buckets.delete(address); // re-inserted: Map order is recency of failure
      refill(bucket, now, this.rate);
    }
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.buckets.set(address, bucket);
  }
}
