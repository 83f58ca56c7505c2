import { Observable, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { HeartbeatTimeoutError } from '../errors.js';

/** Heartbeat settings of the client. */
export interface HeartbeatOptions {
  /** How often the client sends a ping, in ms. Default 25 000. */
  readonly interval: number;
  /** How long past the interval silence is tolerated before the link is declared dead, in ms. Default 10 000. */
  readonly timeout: number;
}

/** Defaults of {@link HeartbeatOptions}. @internal */
export const DEFAULT_HEARTBEAT: HeartbeatOptions = Object.freeze({ interval: 25_000, timeout: 10_000 });

/**
 * A watchdog on a stream of socket events: errors with
 * {@link HeartbeatTimeoutError} when the first event does not arrive within
 * `connectTimeout`, or when a later gap between events is longer than
 * `interval + timeout` (a zombie link: open, but nothing flows).
 *
 * An event costs one assignment (the time it was seen), not a timer: one
 * scheduler action waits for the deadline and, when it fires early because
 * traffic moved the deadline on, re-arms itself for the rest. (A
 * `switchMap(() => timer(...))` would create and cancel a timer per frame.)
 *
 * The connect phase ends with the first event for which `isConnected` is
 * true (default: any event), so a socket that opens but never completes the
 * handshake is bounded by `connectTimeout` too; earlier events do not move
 * that deadline.
 *
 * `onDead` runs before the error travels downstream, while the source is
 * still subscribed, so the caller can close the socket with its own code
 * (4000) instead of the normal close of an unsubscribe. Sending the pings that
 * provoke traffic is the caller's job.
 * @internal
 */
export function heartbeat<T>(
  options: HeartbeatOptions | false,
  connectTimeout: number,
  scheduler: SchedulerLike,
  onDead: (error: HeartbeatTimeoutError) => void = () => undefined,
  isConnected: (value: T) => boolean = () => true,
): MonoTypeOperatorFunction<T> {
  const window = options === false ? undefined : options.interval + options.timeout;
  return (source) =>
    new Observable<T>((subscriber) => {
      let seen = false;
      let graced = false;
      let lastSeen = scheduler.now();
      function check(this: { schedule(state?: undefined, delay?: number): void }): void {
        const limit = seen ? window : connectTimeout;
        if (limit === undefined) return; // connected, and no heartbeat asked for: nothing left to watch
        const idle = scheduler.now() - lastSeen;
        if (idle < limit) {
          graced = false;
          this.schedule(undefined, limit - idle);
          return;
        }
        if (!graced) {
          // One more turn first: after a blocked event loop the timer phase runs before pending
          // socket reads, and frames that did arrive in time would not be counted yet.
          graced = true;
          this.schedule(undefined, 0);
          return;
        }
        const error = new HeartbeatTimeoutError(
          seen ? `no frame for ${limit} ms: link presumed dead` : `no connection within ${connectTimeout} ms`,
        );
        onDead(error);
        subscriber.error(error);
      }
      // The deadline only moves later while the limit stays the same, so re-arming on fire is
      // enough; the one change of limit (connectTimeout → window, at the first event) re-arms here.
      let watchdog = scheduler.schedule(check, connectTimeout);
      const subscription = source.subscribe({
        next: (value) => {
          if (seen) {
            lastSeen = scheduler.now();
          } else if (isConnected(value)) {
            seen = true;
            lastSeen = scheduler.now();
            watchdog.unsubscribe();
            if (window !== undefined) watchdog = scheduler.schedule(check, window);
          }
          subscriber.next(value);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        watchdog.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
