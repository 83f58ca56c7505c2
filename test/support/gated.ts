/**
 * A request handler the test holds open: it counts its runs and answers only
 * when the test calls `release(value)` (a handler still running across a cut).
 */
export interface Gated<T> {
  readonly handler: { onRequest: () => Promise<T> };
  /** How many times the handler ran. */
  readonly runs: number;
  /** Answers every run so far with `value`. */
  release(value: T): void;
}

export function gated<T>(): Gated<T> {
  const waiting: ((value: T) => void)[] = [];
  return {
    handler: { onRequest: () => new Promise<T>((resolve) => waiting.push(resolve)) },
    get runs() {
      return waiting.length;
    },
    release(value) {
      for (const resolve of waiting) resolve(value);
    },
  };
}
