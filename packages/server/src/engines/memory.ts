/**
 * The default engine: one process, everything in memory, bounded.
 */
import type { Payload } from '@rxmux/core/protocol';
import { DEFAULT_LIMITS } from '../limits.js';
import type { Engine, EnginePublication, EngineSink, HistoryResult, PresenceMember } from './engine.js';

/** Options of {@link MemoryEngine}. */
export interface MemoryEngineOptions {
  /** Publications kept per channel. Default `DEFAULT_LIMITS.historySize` (100). */
  readonly historySize?: number;
  /** Channels whose history is kept; the least recently published is forgotten first. Default 10 000. */
  readonly historyChannels?: number;
}

/** A ring buffer of one channel's newest publications. */
interface History {
  /** Seq of the newest publication. */
  last: number;
  readonly ring: (EnginePublication | undefined)[];
}

/**
 * Keeps history and presence in this process. Publications reach the sink
 * synchronously, in order.
 *
 * @example
 * const server = createServer({ port: 8080, engine: new MemoryEngine({ historySize: 500 }) });
 */
export class MemoryEngine implements Engine {
  private sink: EngineSink | undefined;
  private readonly histories = new Map<string, History>();
  private readonly members = new Map<string, Map<string, PresenceMember>>();
  private readonly historySize: number;
  private readonly historyChannels: number;

  constructor(options: MemoryEngineOptions = {}) {
    this.historySize = options.historySize ?? DEFAULT_LIMITS.historySize;
    this.historyChannels = options.historyChannels ?? DEFAULT_LIMITS.historyChannels;
    if (!(this.historySize >= 1) || !(this.historyChannels >= 1)) {
      throw new RangeError('MemoryEngine: historySize and historyChannels must be at least 1');
    }
  }

  start(sink: EngineSink): void {
    this.sink = sink;
  }

  publish(channel: string, data: Payload): EnginePublication {
    let history = this.histories.get(channel);
    if (history === undefined) {
      history = { last: 0, ring: new Array<EnginePublication | undefined>(this.historySize) };
      if (this.histories.size >= this.historyChannels) {
        const oldest = this.histories.keys().next().value;
        if (oldest !== undefined) this.histories.delete(oldest);
      }
    } else {
      this.histories.delete(channel); // re-inserted below: Map order is recency of publishing
    }
    this.histories.set(channel, history);
    const publication: EnginePublication = { channel, seq: history.last + 1, data };
    history.last = publication.seq;
    history.ring[publication.seq % this.historySize] = publication;
    this.sink?.publication(publication);
    return publication;
  }

  subscribe(): void {
    // One process: every publication already reaches the sink.
  }

  unsubscribe(): void {}

  history(channel: string, since: number, limit: number): HistoryResult {
    const history = this.histories.get(channel);
    if (history === undefined) return { publications: [], complete: since <= 0, last: 0 };
    const last = history.last;
    if (since > last) return { publications: [], complete: false, last };
    const oldest = Math.max(1, last - this.historySize + 1);
    const complete = since + 1 >= oldest;
    const from = Math.max(since + 1, oldest, last - limit + 1);
    const publications: EnginePublication[] = [];
    for (let seq = from; seq <= last; seq++) {
      const p = history.ring[seq % this.historySize];
      if (p !== undefined && p.seq === seq) publications.push(p);
    }
    return { publications, complete: complete && from === since + 1, last };
  }

  join(channel: string, member: PresenceMember): void {
    let members = this.members.get(channel);
    if (members === undefined) this.members.set(channel, (members = new Map()));
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

  presence(channel: string): readonly PresenceMember[] {
    const members = this.members.get(channel);
    return members === undefined ? [] : [...members.values()];
  }

  close(): void {
    this.sink = undefined;
  }
}
