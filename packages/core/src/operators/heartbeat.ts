import { throwError, timeout, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
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
 * Errors with {@link HeartbeatTimeoutError} when the first event does not
 * arrive within `connectTimeout`, or when any later gap between events is
 * longer than `interval + timeout` (a zombie link: open, but nothing flows).
 * Sending the pings that provoke traffic is the caller's job.
 */
export function heartbeat<T>(
  options: HeartbeatOptions | false,
  connectTimeout: number,
  scheduler: SchedulerLike,
): MonoTypeOperatorFunction<T> {
  const each = options === false ? undefined : options.interval + options.timeout;
  return timeout({
    first: connectTimeout,
    ...(each === undefined ? {} : { each }),
    scheduler,
    with: (info) =>
      throwError(() =>
        info.seen === 0
          ? new HeartbeatTimeoutError(`no connection within ${connectTimeout} ms`)
          : new HeartbeatTimeoutError(`no frame for ${each ?? 0} ms: link presumed dead`),
      ),
  });
}
