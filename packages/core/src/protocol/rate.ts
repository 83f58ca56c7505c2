/**
 * The token bucket behind the server's rate limit, written once for both
 * ends: the server charges every WebSocket message it receives against it
 * ({@link messageCost}: one token per envelope, or per
 * {@link bytesPerToken} bytes of the message if that is more), before it
 * parses anything, and the client paces its writes to the bucket the server
 * announced in `welcome` (`limits.rate`, `limits.burst`, with the same cost
 * rule), so it never writes what would be refused.
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

/** The fewest bytes one token pays for (see {@link bytesPerToken}). */
export const MIN_BYTES_PER_TOKEN = 16 * 1024;

/**
 * How much of a message's size one token pays for, on a link whose server
 * announced `maxFrameBytes` and `burst` (`welcome.limits`): 16 KiB, or more
 * where needed so that the largest frame costs at most half the burst (it
 * always fits the bucket, with the client's margin). Both ends derive it
 * from the announced limits.
 */
export function bytesPerToken(limits: { readonly maxFrameBytes: number; readonly burst: number }): number {
  return Math.max(MIN_BYTES_PER_TOKEN, Math.ceil((2 * limits.maxFrameBytes) / limits.burst));
}

/**
 * What one WebSocket message costs: one token per envelope it carries, or
 * one per `perToken` of its `size` (a text message's length in UTF-16 code
 * units, as the decoder measures it; a binary message's bytes), whichever is
 * more. A message's parsing and handling grow with both.
 *
 * @example
 * messageCost(3, 200, 16384);        // 3: three small envelopes
 * messageCost(1, 1048576, 16384);    // 64: one envelope of 1 MiB
 */
export function messageCost(envelopes: number, size: number, perToken: number): number {
  return Math.max(envelopes, Math.ceil(size / perToken));
}
