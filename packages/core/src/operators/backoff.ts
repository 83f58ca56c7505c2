import { timer, type Observable, type SchedulerLike } from 'rxjs';

/** Reconnect policy. Every field has a default; see {@link DEFAULT_BACKOFF}. */
export interface BackoffPolicy {
  /** Delay before the first retry, in ms. Default 500. */
  readonly initialDelay: number;
  /** Growth factor per attempt. Default 2. */
  readonly multiplier: number;
  /** Upper bound of any delay, in ms. Default 30 000. */
  readonly maxDelay: number;
  /**
   * Share of the delay that is randomized, 0..1. With 0.5 (default) a delay
   * `d` becomes a value in `[d/2, d]`, so clients cut off together do not
   * come back together (no thundering herd), while the floor keeps the
   * schedule predictable.
   */
  readonly jitter: number;
  /** Retries before giving up (status `failed`). Default `Infinity`. */
  readonly maxAttempts: number;
  /**
   * How long a connection must stay open before the attempt counter starts
   * over, in ms. Default 5 000. A link that is welcomed and dropped again
   * sooner counts as a failed attempt, so the backoff keeps growing.
   */
  readonly minUptime: number;
}

/** The defaults of {@link BackoffPolicy}: 500 ms, ×2, 30 s cap, 50 % jitter, unlimited attempts, 5 s minimum uptime. @internal */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({
  initialDelay: 500,
  multiplier: 2,
  maxDelay: 30_000,
  jitter: 0.5,
  maxAttempts: Number.POSITIVE_INFINITY,
  minUptime: 5_000,
});

/**
 * The delay before retry number `attempt` (1-based): exponential, capped,
 * then jittered downward. Pure: `random` is injected.
 *
 * @example
 * backoffDelay(3, DEFAULT_BACKOFF, () => 1); // 2000
 * @internal
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const growth = policy.multiplier ** Math.max(0, attempt - 1); // Infinity after enough attempts
  // 0 × Infinity is NaN: a zero initial delay stays zero however many attempts failed.
  const exp = policy.initialDelay === 0 ? 0 : policy.initialDelay * growth;
  const capped = Math.min(policy.maxDelay, exp);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(capped * (1 - jitter * (1 - random())));
}

/** A timer that fires after {@link backoffDelay} on the given scheduler (for `retry({ delay })`). @internal */
export function backoffTimer(
  attempt: number,
  policy: BackoffPolicy,
  scheduler: SchedulerLike,
  random: () => number = Math.random,
): Observable<0> {
  return timer(backoffDelay(attempt, policy, random), scheduler);
}
