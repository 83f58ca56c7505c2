/**
 * Small runtime checks shared by the validators of every hop. Each receiving
 * end of a hop trusts nothing it did not check: a page can post anything, and
 * a message that crossed a port is only as good as the code that sent it.
 * @packageDocumentation
 */

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string of at most `max` UTF-16 code units. */
export function isShortString(value: unknown, max = 4096): value is string {
  return typeof value === 'string' && value.length <= max;
}

/** A finite number (JSON has no NaN or Infinity). */
export function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A non-negative safe integer. */
export function isUint(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** `undefined`, or passes `check`. */
export function optional<T>(value: unknown, check: (v: unknown) => v is T): value is T | undefined {
  return value === undefined || check(value);
}

/** One of `options`. */
export function isOneOf<const T extends string>(value: unknown, options: readonly T[]): value is T {
  return typeof value === 'string' && (options as readonly string[]).includes(value);
}

/**
 * The length of `value` as JSON, or `undefined` when it is not JSON at all
 * (a cycle, a BigInt). Ports serialize messages as JSON, so this is also what
 * the message will cost on the next hop.
 */
export function jsonLength(value: unknown): number | undefined {
  try {
    // JSON.stringify returns undefined (despite its type) for undefined, functions and symbols.
    return (JSON.stringify(value) as string | undefined)?.length;
  } catch {
    return undefined;
  }
}
