/**
 * Engines and session stores may answer synchronously or with a promise
 * (`Awaitable`). These helpers continue on a plain value at once, so the
 * memory engine and the memory store cost no extra turn of the event loop,
 * and on a promise once it settles.
 */
import type { Awaitable } from '../engines/engine.js';

/** `f(value)` now, or once the promise resolves. A synchronous throw of `f` propagates to the caller. @internal */
export function chain<T, U>(value: Awaitable<T>, f: (value: T) => Awaitable<U>): Awaitable<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * Runs `then` on a value now, or on a promise once it resolves (`failed` on a
 * rejection). Returns the promise of that continuation (and of the promise
 * `then` returns, if any), or `undefined` when everything ran synchronously:
 * a socket holds its later frames only for a promise.
 * @internal
 */
export function after<T>(
  value: Awaitable<T>,
  then: (value: T) => Promise<void> | void,
  failed: (error: unknown) => void,
): Promise<void> | undefined {
  if (value instanceof Promise) return value.then(then, failed);
  const next = then(value);
  return next instanceof Promise ? next : undefined;
}

/** Runs a call that may throw or reject (an engine's, a session store's): a failure is reported, never thrown, never left unhandled. @internal */
export function reported(call: () => unknown, onError: (error: unknown) => void): void {
  try {
    const result = call();
    if (result instanceof Promise) result.catch(onError);
  } catch (error) {
    onError(error);
  }
}
