import { share, Subject, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';

/**
 * Shares the source among all subscribers (ref-counted) and keeps it
 * subscribed for `ms` after the last subscriber leaves, so a component that
 * unsubscribes and resubscribes within that window (a re-render) does not
 * tear down and rebuild the source. With `ms` 0 the source is released at once.
 *
 * @example
 * const stream$ = join$.pipe(linger(1000));
 * @internal
 */
export function linger<T>(ms: number, scheduler: SchedulerLike): MonoTypeOperatorFunction<T> {
  return share<T>({
    connector: () => new Subject<T>(),
    resetOnError: true,
    resetOnComplete: true,
    resetOnRefCountZero: ms > 0 ? () => timer(ms, scheduler) : true,
  });
}
