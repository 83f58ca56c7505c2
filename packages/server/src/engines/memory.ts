/**
 * The default engine: one process, everything in memory, bounded. Like every
 * engine it knows nothing of the server: the server passes its limits in.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, RxmuxError, type Payload } from '@rxmux/core/protocol';
import type { ChannelPosition, Engine, EnginePublication, EngineSink, HistoryResult, PresenceMember } from './engine.js';

/** Options of {@link MemoryEngine}. */
export interface MemoryEngineOptions {
  /** Publications kept per channel. Default 100. */
  readonly historySize?: number;
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
const DEFAULTS = Object.freeze({ historySize: 100, historyTtlMs: 5 * 60_000, historyChannels: 10_000 });

/** A ring buffer of one channel's newest publications, in one epoch. */
interface History {
  readonly epoch: string;
  /** Seq of the newest publication. */
  last: number;
  readonly ring: (EnginePublication | undefined)[];
  /** When each ring slot was published (same index as `ring`). */
  readonly at: number[];
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
  private readonly historyTtlMs: number;
  private readonly historyChannels: number;
  private readonly now: () => number;

  constructor(options: MemoryEngineOptions = {}) {
    this.historySize = options.historySize ?? DEFAULTS.historySize;
    this.historyTtlMs = options.historyTtlMs ?? DEFAULTS.historyTtlMs;
    this.historyChannels = options.historyChannels ?? DEFAULTS.historyChannels;
    this.now = options.now ?? Date.now;
    if (!(this.historySize >= 1) || !(this.historyChannels >= 1) || !(this.historyTtlMs > 0)) {
      throw new RxmuxError(ErrorCode.InvalidArgument, 'MemoryEngine: historySize and historyChannels must be at least 1, historyTtlMs positive');
    }
  }

  start(sink: EngineSink<P>): void {
    this.sink = sink;
    sink.status('up');
  }

  publish(channel: string, data: Payload): EnginePublication {
    const history = this.historyOf(channel);
    const publication: EnginePublication = { channel, epoch: history.epoch, seq: history.last + 1, data };
    history.last = publication.seq;
    const slot = publication.seq % this.historySize;
    history.ring[slot] = publication;
    history.at[slot] = this.now();
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
    const { last, epoch } = history;
    if (since > last) return { publications: [], complete: false, last, epoch };
    // The oldest seq still kept: within the ring, and not older than the age bound.
    const stale = this.now() - this.historyTtlMs;
    let oldest = Math.max(1, last - this.historySize + 1);
    while (oldest <= last && (history.at[oldest % this.historySize] ?? 0) < stale) oldest++;
    const complete = since + 1 >= oldest;
    const from = Math.max(since + 1, oldest, last - limit + 1);
    const publications: EnginePublication[] = [];
    for (let seq = from; seq <= last; seq++) {
      const p = history.ring[seq % this.historySize];
      if (p?.seq === seq) publications.push(p);
    }
    return { publications, complete: complete && from === since + 1, last, epoch };
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
      history = { epoch, last: 0, ring: new Array<EnginePublication | undefined>(this.historySize), at: new Array<number>(this.historySize) };
      if (this.histories.size >= this.historyChannels) {
        const oldest = this.histories.keys().next().value;
        if (oldest !== undefined) this.histories.delete(oldest);
      }
    } else {
      this.histories.delete(channel); // re-inserted below: Map order is recency of use
    }
    this.histories.set(channel, history);
    return history;
  }
}
