/**
 * Small helpers shared by the orchestrator and the child processes: wall
 * clock comparable across processes, statistics, payloads, bounded waits.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Milliseconds since the epoch with sub-millisecond resolution; comparable between processes on one machine. */
export function wall(): number {
  return performance.timeOrigin + performance.now();
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Every run's values, empty: `[name][metric] = []`. */
export function emptyRuns(names: readonly string[], metrics: readonly { readonly key: string }[]): Record<string, Record<string, number[]>> {
  return Object.fromEntries(names.map((n) => [n, Object.fromEntries(metrics.map((m) => [m.key, [] as number[]]))]));
}

/** The median of every name's and metric's runs. */
export function mediansOf(runs: Record<string, Record<string, number[]>>): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.entries(runs).map(([name, byMetric]) => [name, Object.fromEntries(Object.entries(byMetric).map(([k, v]) => [k, median(v)]))]));
}

/** The `p`-th percentile (0..100) of a list, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** A JSON object whose serialization is exactly `bytes` long (the 64-byte payload). */
export function payloadOf(bytes: number): { id: number; body: string } {
  const base = JSON.stringify({ id: 12345, body: '' }).length;
  return { id: 12345, body: 'x'.repeat(Math.max(0, bytes - base)) };
}

/** The 64-byte message payload, shared by every scenario. */
export const PAYLOAD = payloadOf(64);

/** Contender order for run `r`: rotated, so no contender always goes first on a warming or busy machine. */
export function rotation<T>(items: readonly T[], r: number): T[] {
  const k = r % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** `a / b`, NaN when either is missing. */
export const ratio = (a: number | undefined, b: number | undefined): number => (a === undefined || b === undefined ? Number.NaN : a / b);

/** A ratio as the report prints it: `1.23×`. */
export const ratioText = (v: number): string => `${v.toFixed(2)}×`;

/** Thrown when a bounded wait runs out; the message says what stalled. */
export class StallError extends Error {
  override readonly name = 'StallError';
}

/**
 * Polls `check` (every `everyMs`) until it returns a value other than
 * `undefined`, or throws a {@link StallError} built by `describe` after `timeoutMs`.
 */
export async function waitFor<T>(check: () => T | undefined, timeoutMs: number, describe: () => string, everyMs = 2): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new StallError(`${describe()} (gave up after ${(timeoutMs / 1000).toFixed(1)} s)`);
    await sleep(everyMs);
  }
}

/** Races a promise against a timer; the timer's rejection is a {@link StallError} with `what` in it. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StallError(`${what} did not finish within ${(timeoutMs / 1000).toFixed(1)} s`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Yields to the event loop once (lets sockets read and write between bursts of work). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The value after a command-line flag (`--runs 3` → `'3'`), `undefined` without the flag; throws when the value is missing. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
}
