/**
 * The token bucket behind the server's rate limit, written once for both
 * ends: the server charges every envelope it receives against it, and the
 * client paces its writes to the bucket the server announced in `welcome`
 * (`limits.rate`, `limits.burst`), so it never writes what would be refused.
 *
 * The bucket is two numbers kept on its owner (an idle connection pays for no
 * object): `tokens`, and the time they were last refilled.
 */

/** A token bucket's state. */
export interface BucketState {
  tokens: number;
  refilledAt: number;
}

/** A bucket's parameters: tokens added per second, and its size. */
export interface BucketRate {
  /** Tokens added per second. */
  readonly rate: number;
  /** The most tokens the bucket holds (the largest burst). */
  readonly burst: number;
}

/** A full bucket at time `now`. */
export function fullBucket(rate: BucketRate, now: number): BucketState {
  return { tokens: rate.burst, refilledAt: now };
}

/** Adds the tokens earned since the last refill (never above the burst). */
export function refill(bucket: BucketState, now: number, rate: BucketRate): void {
  const elapsed = now - bucket.refilledAt;
  if (elapsed > 0) {
    bucket.tokens = Math.min(rate.burst, bucket.tokens + (elapsed * rate.rate) / 1000);
    bucket.refilledAt = now;
  }
}

/**
 * Takes `cost` tokens if the bucket holds them, after refilling it for the
 * time elapsed since the last call. Returns whether the tokens were taken.
 */
export function takeTokens(bucket: BucketState, cost: number, now: number, rate: BucketRate): boolean {
  refill(bucket, now, rate);
  if (bucket.tokens < cost) return false;
  bucket.tokens -= cost;
  return true;
}

/** Milliseconds until the bucket holds `cost` tokens (0: it does now). `cost` above the burst never fits: Infinity. */
export function delayFor(bucket: BucketState, cost: number, now: number, rate: BucketRate): number {
  if (cost > rate.burst) return Number.POSITIVE_INFINITY;
  refill(bucket, now, rate);
  return bucket.tokens >= cost ? 0 : Math.ceil(((cost - bucket.tokens) * 1000) / rate.rate);
}
