/**
 * The default engine: one process, everything in memory, bounded. Like every
 * engine it knows nothing of the server: the server passes its limits in.
 *
 * Each channel's history is a queue of encoded publications (JSON text or
 * bytes, never the parsed value), bounded four ways: `historySize` entries
 * and `historyBytes` bytes per channel, `historyTotalBytes` over every
 * channel, and `historyTtlMs` of age, freed by a timer (not only hidden from
 * reads). Over the total, the largest histories are trimmed first, oldest
 * entries first, down to an equal level (and 7/8 of the total), so a flood
 * into some channels costs those channels' history, not everyone's.
 *
 * ```
 *   publish ─▶ [ JSON text | bytes copy ] ─▶ channel queue (seq, at, cost) ─▶ trim: count, channel bytes
 *                                                     │
 *                                                     └▶ total over historyTotalBytes ─▶ trim the largest first
 *   every ttl/4 (≤ 1 s) ─▶ free entries older than historyTtlMs
 * ```
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, RxmuxError, type Payload } from '@rxmux/core/protocol';
import type { ChannelPosition, Engine, EnginePublication, EngineSink, EngineUsage, HistoryResult, PresenceMember } from './engine.js';
import { Deque } from './deque.js';
import { ENTRY_OVERHEAD, heldBytes, StoredPublication } from './encoded.js';

/** Options of {@link MemoryEngine}. */
export interface MemoryEngineOptions {
  /** Publications kept per channel. Default 100. */
  readonly historySize?: number;
  /** Bytes kept per channel (encoded publications plus 64 B each). Default 8 MiB. */
  readonly historyBytes?: number;
  /** Bytes kept over every channel. Default 256 MiB. */
  readonly historyTotalBytes?: number;
  /** How long a publication is kept, in ms. Default 5 min. */
  readonly historyTtlMs?: number;
  /** Channels whose history is kept; the least recently used is forgotten first. Default 10 000. */
  readonly historyChannels?: number;
  /** Clock in ms, for the history age bound. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The engine's own defaults (the same numbers as the server's `DEFAULT_LIMITS`,
 * which `createServer` passes in; an engine imports nothing of the server).
 */
const DEFAULTS = Object.freeze({
  historySize: 100,
  historyBytes: 8 * 1024 * 1024,
  historyTotalBytes: 256 * 1024 * 1024,
  historyTtlMs: 5 * 60_000,
  historyChannels: 10_000,
});

/** Over the total, histories are trimmed to this share of it, so trimming runs once per eighth of the total published. */
const TRIM_TO = 7 / 8;

/** One kept publication: its encoded data, when it was published, what it costs. */
interface Entry {
  readonly seq: number;
  readonly at: number;
  readonly json: string | undefined;
  readonly bytes: Uint8Array | undefined;
  readonly cost: number;
}

/** One channel's newest publications, in one epoch: the entries' seqs are contiguous, the newest being `last`. */
interface History {
  readonly epoch: string;
  /** Seq of the newest publication. */
  last: number;
  /** The kept entries, oldest first. */
  readonly entries: Deque<Entry>;
  /** Bytes the kept entries cost. */
  bytes: number;
}

/** A new history epoch: random, so a restarted process never reuses one. */
const newEpoch = (): string => randomBytes(9).toString('base64url');

/**
 * Keeps history and presence in this process. Publications reach the sink
 * synchronously, in order, so the ordering rules of {@link Engine} hold
 * trivially, and it never resets: every call answers at once. Every history gets a random epoch when it is
 * created (first publish or first history read), so a restarted process (or
 * a channel whose history was forgotten) is recognised by resuming clients.
 *
 * @example
 * const server = createServer({ port: 8080, engine: new MemoryEngine({ historySize: 500 }) });
 */
export class MemoryEngine<P = unknown> implements Engine<P> {
  private sink: EngineSink<P> | undefined;
  private readonly histories = new Map<string, History>();
  /** Epochs already told to subscribers of channels without a history (see placeholderEpoch). */
  private readonly placeholders = new Map<string, string>();
  private readonly members = new Map<string, Map<string, PresenceMember<P>>>();
  private readonly historySize: number;
  private readonly historyBytes: number;
  private readonly historyTotalBytes: number;
  private readonly historyTtlMs: number;
  private readonly historyChannels: number;
  private readonly now: () => number;
  /** Bytes and entries kept over every channel. */
  private totalBytes = 0;
  private totalEntries = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(options: MemoryEngineOptions = {}) {
    this.historySize = options.historySize ?? DEFAULTS.historySize;
    this.historyBytes = options.historyBytes ?? DEFAULTS.historyBytes;
    this.historyTotalBytes = options.historyTotalBytes ?? DEFAULTS.historyTotalBytes;
    this.historyTtlMs = options.historyTtlMs ?? DEFAULTS.historyTtlMs;
    this.historyChannels = options.historyChannels ?? DEFAULTS.historyChannels;
    this.now = options.now ?? Date.now;
    if (!(this.historySize >= 1) || !(this.historyChannels >= 1) || !(this.historyTtlMs > 0) || !(this.historyBytes > 0) || !(this.historyTotalBytes > 0)) {
      throw new RxmuxError(ErrorCode.InvalidArgument, 'MemoryEngine: historySize and historyChannels must be at least 1, historyTtlMs, historyBytes and historyTotalBytes positive');
    }
  }

  start(sink: EngineSink<P>): void {
    this.sink = sink;
    // Entries past their age are freed, not only hidden from reads.
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(1000, Math.max(50, this.historyTtlMs / 4)));
    this.sweeper.unref();
    sink.status('up');
  }

  publish(channel: string, data: Payload): EnginePublication {
    const bytes = data instanceof Uint8Array ? new Uint8Array(data) : undefined; // a copy: a view would keep its whole buffer
    const json = bytes === undefined ? JSON.stringify(data) : undefined;
    const history = this.historyOf(channel);
    const seq = history.last + 1;
    const cost = heldBytes(json ?? (bytes as Uint8Array)) + ENTRY_OVERHEAD;
    history.last = seq;
    history.entries.push({ seq, at: this.now(), json, bytes, cost });
    history.bytes += cost;
    this.totalBytes += cost;
    this.totalEntries++;
    while (history.entries.length > this.historySize || history.bytes > this.historyBytes) this.dropOldest(history);
    if (this.totalBytes > this.historyTotalBytes) this.trimLargest();
    const publication: EnginePublication = json === undefined ? { channel, epoch: history.epoch, seq, data } : { channel, epoch: history.epoch, seq, data, json };
    this.sink?.publication(publication);
    return publication;
  }

  subscribe(): void {
    // One process: every publication already reaches the sink.
  }

  unsubscribe(): void {
    // One process: nothing to stop listening to.
  }

  position(channel: string): ChannelPosition {
    const history = this.histories.get(channel);
    // Reading never creates a history: subscribers of channels nobody publishes on must not
    // be able to evict live histories (and reset their epochs) from the bounded map.
    if (history === undefined) return { epoch: this.placeholderEpoch(channel), last: 0 };
    this.touch(channel, history);
    return { epoch: history.epoch, last: history.last };
  }

  history(channel: string, since: number, limit: number): HistoryResult {
    if (!(since >= 0) || !(limit >= 1)) throw new RxmuxError(ErrorCode.InvalidArgument, 'history(): since must be at least 0 and limit at least 1');
    const history = this.histories.get(channel);
    if (history === undefined) return { publications: [], complete: since === 0, last: 0, epoch: this.placeholderEpoch(channel) };
    this.touch(channel, history);
    const { last, epoch, entries } = history;
    if (since > last) return { publications: [], complete: false, last, epoch };
    // The oldest entry still kept and not older than the age bound (the sweeper frees those soon).
    const stale = this.now() - this.historyTtlMs;
    let first = 0;
    while (first < entries.length && (entries.at(first) as Entry).at < stale) first++;
    const oldest = entries.at(first)?.seq ?? last + 1;
    const from = Math.max(since + 1, oldest, last - limit + 1);
    const publications: EnginePublication[] = [];
    for (let i = first + (from - oldest); i < entries.length; i++) {
      const entry = entries.at(i) as Entry;
      publications.push(new StoredPublication(channel, epoch, entry.seq, entry.json, entry.bytes));
    }
    return { publications, complete: since + 1 >= oldest && from === since + 1, last, epoch };
  }

  join(channel: string, member: PresenceMember<P>): void {
    let members = this.members.get(channel);
    if (members === undefined) this.members.set(channel, (members = new Map<string, PresenceMember<P>>()));
    members.set(member.session, member);
    this.sink?.presence({ type: 'join', channel, member });
  }

  leave(channel: string, session: string): void {
    const members = this.members.get(channel);
    const member = members?.get(session);
    if (members === undefined || member === undefined) return;
    members.delete(session);
    if (members.size === 0) this.members.delete(channel);
    this.sink?.presence({ type: 'leave', channel, member });
  }

  presence(channel: string): readonly PresenceMember<P>[] {
    const members = this.members.get(channel);
    return members === undefined ? [] : [...members.values()];
  }

  close(): void {
    this.sink = undefined;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  usage(): EngineUsage {
    return { historyBytes: this.totalBytes, historyEntries: this.totalEntries, historyChannels: this.histories.size };
  }

  /** Marks a history most recently used (Map order is recency of use). */
  private touch(channel: string, history: History): void {
    this.histories.delete(channel);
    this.histories.set(channel, history);
  }

  /**
   * The epoch told to subscribers of a channel with no history yet. The first
   * publish adopts it, so those subscribers see no false epoch change. Bounded
   * like the histories; losing one costs at most a spurious gap notice.
   */
  private placeholderEpoch(channel: string): string {
    let epoch = this.placeholders.get(channel);
    if (epoch === undefined) {
      epoch = newEpoch();
      if (this.placeholders.size >= this.historyChannels) {
        const oldest = this.placeholders.keys().next().value;
        if (oldest !== undefined) this.placeholders.delete(oldest);
      }
      this.placeholders.set(channel, epoch);
    }
    return epoch;
  }

  /** The channel's history, created (with a new epoch) when missing; marks it most recently used. */
  private historyOf(channel: string): History {
    let history = this.histories.get(channel);
    if (history === undefined) {
      const epoch = this.placeholders.get(channel) ?? newEpoch();
      this.placeholders.delete(channel);
      history = { epoch, last: 0, entries: new Deque<Entry>(), bytes: 0 };
      if (this.histories.size >= this.historyChannels) {
        const [oldest, forgotten] = this.histories.entries().next().value ?? [];
        if (oldest !== undefined && forgotten !== undefined) {
          this.histories.delete(oldest);
          this.totalBytes -= forgotten.bytes;
          this.totalEntries -= forgotten.entries.length;
        }
      }
    } else {
      this.histories.delete(channel); // re-inserted below: Map order is recency of use
    }
    this.histories.set(channel, history);
    return history;
  }

  /** Frees the oldest entry of `history`. */
  private dropOldest(history: History): void {
    const entry = history.entries.shift();
    if (entry === undefined) return;
    history.bytes -= entry.cost;
    this.totalBytes -= entry.cost;
    this.totalEntries--;
  }

  /**
   * Over `historyTotalBytes`: trims the largest histories first, each to the
   * same level, until the total is at most {@link TRIM_TO} of the bound. One
   * sort per eighth of the bound published.
   */
  private trimLargest(): void {
    const excess = this.totalBytes - Math.floor(this.historyTotalBytes * TRIM_TO);
    if (excess <= 0) return;
    const largest = [...this.histories.values()].filter((h) => h.bytes > 0).sort((a, b) => b.bytes - a.bytes);
    let sum = 0;
    let level = 0;
    let count = 0;
    for (const history of largest) {
      sum += history.bytes;
      count++;
      const next = largest[count]?.bytes ?? 0;
      // Trimming the `count` largest down to `next` frees sum - count × next.
      if (sum - count * next >= excess) {
        level = Math.max(next, Math.floor((sum - excess) / count));
        break;
      }
    }
    for (const history of largest.slice(0, count)) while (history.bytes > level && history.entries.length > 0) this.dropOldest(history);
  }

  /** Frees the entries older than `historyTtlMs` in every history. */
  private sweep(): void {
    const stale = this.now() - this.historyTtlMs;
    for (const history of this.histories.values()) {
      while ((history.entries.at(0)?.at ?? stale) < stale) this.dropOldest(history);
    }
  }
}
