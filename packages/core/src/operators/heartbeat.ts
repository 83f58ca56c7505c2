import { defer, EMPTY, merge, mergeMap, share, startWith, switchMap, throwError, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { HeartbeatTimeoutError } from '../errors.js';

/** Heartbeat settings of the client. */
export interface HeartbeatOptions {
  /** How often the client sends a ping, in ms. Default 25 000. */
  readonly interval: number;
  /** How long past the interval silence is tolerated before the link is declared dead, in ms. Default 10 000. */
  readonly timeout: number;
}

/** Defaults of {@link HeartbeatOptions}. */
export const DEFAULT_HEARTBEAT: HeartbeatOptions = Object.freeze({ interval: 25_000, timeout: 10_000 });

/**
 * A watchdog on a stream of socket events: errors with
 * {@link HeartbeatTimeoutError} when the first event does not arrive within
 * `connectTimeout`, or when a later gap between events is longer than
 * `interval + timeout` (a zombie link: open, but nothing flows).
 *
 * `onDead` runs before the error travels downstream, while the source is
 * still subscribed, so the caller can close the socket with its own code
 * (4000) instead of the normal close of an unsubscribe. Sending the pings that
 * provoke traffic is the caller's job.
 */
export function heartbeat<T>(
  options: HeartbeatOptions | false,
  connectTimeout: number,
  scheduler: SchedulerLike,
  onDead: (error: HeartbeatTimeoutError) => void = () => undefined,
): MonoTypeOperatorFunction<T> {
  const each = options === false ? undefined : options.interval + options.timeout;
  return (source) =>
    defer(() => {
      const events = source.pipe(share());
      let seen = false;
      const watchdog = events.pipe(
        startWith(undefined),
        switchMap((_, index) => {
          seen = index > 0;
          if (!seen) return timer(connectTimeout, scheduler);
          return each === undefined ? EMPTY : timer(each, scheduler);
        }),
        mergeMap(() => {
          const error = new HeartbeatTimeoutError(
            seen ? `no frame for ${each ?? 0} ms: link presumed dead` : `no connection within ${connectTimeout} ms`,
          );
          onDead(error);
          return throwError(() => error);
        }),
      );
      return merge(events, watchdog);
    });
}
