import { catchError, concat, EmptyError, first, firstValueFrom, map, of, throwError, timeout, type Observable } from 'rxjs';

/**
 * Options of the kit's waits (`nextConnection`, `nextFrame`, `hello`, `waitForClose`).
 *
 * @example
 * const c = await server.nextConnection({ timeout: 5_000 });
 */
export interface WaitOptions {
  /**
   * How long to wait, in milliseconds of real time (the RxJS `asyncScheduler`),
   * before the promise rejects with a message that says what did arrive.
   * Default: the server's `timeout` option (2 000 ms).
   */
  readonly timeout?: number;
}

/**
 * The one wait of the kit: resolves with the first value `find` returns,
 * asking it now and again after every emission of `changes$`; rejects with
 * `missing(why)` once `changes$` completes (nothing more can arrive) or `ms`
 * pass. `missing` is called when the wait fails, so its message lists what
 * had arrived by then.
 */
export function waitFor<T>(changes$: Observable<unknown>, find: () => T | undefined, ms: number, missing: (why: string) => string): Promise<T> {
  return firstValueFrom(
    concat(of(undefined), changes$).pipe(
      map(() => find()),
      first((found): found is T => found !== undefined),
      timeout({ first: ms, with: () => throwError(() => new Error(missing(`within ${ms} ms`))) }),
      catchError((error: unknown) => throwError(() => (error instanceof EmptyError ? new Error(missing('before the socket closed')) : error))),
    ),
  );
}
