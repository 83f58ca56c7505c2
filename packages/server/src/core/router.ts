/**
 * Channel handlers by exact name or by pattern (`player-*`).
 *
 * Lookup is O(1) per frame: an exact Map first, then a memo Map from channel
 * name to the pattern handler it resolved to (patterns are scanned once per
 * channel name, never per frame). The memo is bounded so hostile clients
 * inventing channel names cannot grow it without limit.
 */
import { ErrorCode, RxmuxError } from '@rxmux/core/protocol';

/** Most channel names whose pattern resolution is remembered. */
const MEMO_LIMIT = 10_000;

interface PatternEntry<H> {
  readonly pattern: string;
  readonly regex: RegExp;
  readonly handler: H;
}

/** Whether `name` is a pattern: it contains `*` (any run of characters, possibly empty). @internal */
export function isPattern(name: string): boolean {
  return name.includes('*');
}

function patternRegex(pattern: string): RegExp {
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*');
  return new RegExp(`^${source}$`);
}

/**
 * Maps channel names to handlers. Exact names win over patterns; among
 * patterns the one with the longest literal text wins (then the first registered).
 * @internal
 */
export class Router<H> {
  private readonly exact = new Map<string, H>();
  private patterns: PatternEntry<H>[] = [];
  private readonly memo = new Map<string, H | null>();

  /**
   * Registers `handler` for a channel or pattern. Returns a function that
   * removes it. Throws `RXMUX_ERR_INVALID_ARGUMENT` for an empty name or a
   * name that already has a handler.
   */
  add(name: string, handler: H): () => void {
    if (typeof name !== 'string' || name.length === 0) throw misuse('handle(): channel or pattern must be a non-empty string');
    if (isPattern(name)) {
      if (this.patterns.some((p) => p.pattern === name)) throw misuse(`handle(): pattern ${name} already has a handler`);
      const entry: PatternEntry<H> = { pattern: name, regex: patternRegex(name), handler };
      this.patterns = [...this.patterns, entry].sort((a, b) => literalLength(b.pattern) - literalLength(a.pattern));
      this.memo.clear();
      return () => {
        this.patterns = this.patterns.filter((p) => p !== entry);
        this.memo.clear();
      };
    }
    if (this.exact.has(name)) throw misuse(`handle(): channel ${name} already has a handler`);
    this.exact.set(name, handler);
    return () => {
      if (this.exact.get(name) === handler) this.exact.delete(name);
    };
  }

  /** The handler for `channel`, or `undefined`. */
  resolve(channel: string): H | undefined {
    const exact = this.exact.get(channel);
    if (exact !== undefined) return exact;
    if (this.patterns.length === 0) return undefined;
    let found = this.memo.get(channel);
    if (found === undefined) {
      found = this.patterns.find((p) => p.regex.test(channel))?.handler ?? null;
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(channel, found);
    }
    return found ?? undefined;
  }
}

const misuse = (message: string): RxmuxError => new RxmuxError(ErrorCode.InvalidArgument, message);

function literalLength(pattern: string): number {
  return pattern.replaceAll('*', '').length;
}
