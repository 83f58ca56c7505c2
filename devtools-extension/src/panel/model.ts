/**
 * The panel's state, updated incrementally: each event costs O(1) (a ring
 * push, a few counters, a Map lookup), never a rescan, so 100,000 frames
 * stay cheap. The DOM reads it; nothing here touches the DOM.
 *
 * ```
 *  DebugEvent ─▶ ingest ─┬─▶ connections (status timeline, resumed or not, closed for good)
 *                        ├─▶ channel stats (counts, bytes, rate, seq/epoch, gaps, drops, paused by a debugger)
 *                        ├─▶ request pairs (request out ↔ response / request-error in, by id)
 *                        └─▶ log ring (last N) ─▶ filtered view (matching entries, appended as they come)
 * ```
 * @packageDocumentation
 */
import type { ConnectionStatus } from '@rxmux/core';
import type { DebugAction, DebugEvent, DebugFrameEvent, DebugStreamEvent, DebugTransport } from '@rxmux/core/debug';
import type { JsonValue } from '@rxmux/core/protocol';
import { matches, NO_FILTER, type LogFilter } from './filter.js';
import { Ring } from './ring.js';

/** Log records kept by default. */
export const DEFAULT_LOG_CAPACITY = 100_000;
/** Status transitions kept per connection. */
const TIMELINE_MAX = 200;
/** Request pairs kept. */
const PAIRS_MAX = 10_000;
/** Seconds over which a channel's rate is averaged. */
export const RATE_WINDOW_S = 10;

/** An action the panel sent, logged next to the events it causes. */
export interface PanelActionRecord {
  readonly type: 'panel-action';
  readonly conn: string;
  readonly at: number;
  readonly action: DebugAction;
}

/** What the log holds: the tap's events and the panel's own actions. */
export type PanelRecord = DebugEvent | PanelActionRecord;

/** One row of the log. */
export interface LogEntry {
  /** Increasing number of the entry (its position in the capture). */
  readonly n: number;
  readonly record: PanelRecord;
  /** The channel, also for frames that do not carry one (a response takes its request's). */
  readonly channel: string | undefined;
  /** What the type filter matches: the frame name for frames, the event type otherwise. */
  readonly kind: string;
  /** The request pair of a request, response or request-error frame (its latency may be known only later, from the tap). */
  readonly pair?: RequestPair;
  /** The acknowledgement of a message sent with `{ ack: true }` (known later, from the tap's `ack` event). */
  readonly ack?: AckState;
  /** Round trip of an ack or a request event. */
  readonly latency?: number;
  /** Lower-case text the text filter searches; built on first use. */
  search?: string;
}

/** One status change of a connection. */
export interface Transition {
  readonly at: number;
  readonly from: ConnectionStatus;
  readonly to: ConnectionStatus;
  readonly attempt?: number;
  readonly retryIn?: number;
  readonly code?: number;
  readonly reason?: string;
  /** On a transition to open: whether the server resumed the session. */
  readonly resumed?: boolean;
}

/** A connection of the page. */
export interface ConnectionInfo {
  readonly id: string;
  url: string;
  actions: boolean;
  status: ConnectionStatus | 'unknown';
  readonly timeline: Transition[];
  transports: Set<DebugTransport>;
  /** Its event stream (`events(conn, id)`: the EventSource or long-poll loop), when it has had one. */
  stream: { readonly transport: 'sse' | 'poll'; readonly state: DebugStreamEvent['state']; readonly retryIn?: number; readonly code?: string } | undefined;
  /** Closed for good (`conn.close()`, the tap's `disposed` event): nothing more will come, no action can reach it. */
  disposed: boolean;
}

/** Counts of a sliding window, in one-second buckets. */
class RateMeter {
  readonly #buckets = new Array<number>(RATE_WINDOW_S).fill(0);
  #second = 0;

  add(at: number): void {
    const second = Math.floor(at / 1000);
    this.#advance(second);
    if (second > this.#second - RATE_WINDOW_S) this.#buckets[second % RATE_WINDOW_S] = (this.#buckets[second % RATE_WINDOW_S] ?? 0) + 1;
  }

  /** Messages per second over the window ending at `now`. */
  rate(now: number): number {
    const second = Math.floor(now / 1000);
    if (second - this.#second >= RATE_WINDOW_S) return 0;
    let sum = 0;
    for (let s = second - RATE_WINDOW_S + 1; s <= Math.min(second, this.#second); s++) sum += this.#buckets[((s % RATE_WINDOW_S) + RATE_WINDOW_S) % RATE_WINDOW_S] ?? 0;
    return sum / RATE_WINDOW_S;
  }

  #advance(second: number): void {
    if (second <= this.#second) return;
    const steps = Math.min(second - this.#second, RATE_WINDOW_S);
    for (let i = 1; i <= steps; i++) this.#buckets[(this.#second + i) % RATE_WINDOW_S] = 0;
    this.#second = second;
  }
}

/** A channel of a connection, with its running counters. */
export interface ChannelStats {
  /** `conn` + NUL + `channel`. */
  readonly key: string;
  readonly conn: string;
  readonly channel: string;
  transport: DebugTransport;
  /** Local subscribers, when the tap reported them (a debugger capture cannot know). */
  subscribers: number | undefined;
  state: 'joining' | 'joined' | 'left' | undefined;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  lastSeq: number | undefined;
  epoch: string | undefined;
  gaps: number;
  drops: number;
  errors: number;
  /** Paused by a debugger, as the tap reports it (`paused` / `resumed` channel events): the tap holds its messages. */
  paused: boolean;
  /** A pause or resume this panel asked for and the tap has not confirmed yet. */
  requested: 'pause' | 'resume' | undefined;
  readonly meter: RateMeter;
}

/** A request and its answer. */
export interface RequestPair {
  readonly key: string;
  readonly conn: string;
  readonly id: number;
  channel: string | undefined;
  sentAt: number | undefined;
  request: JsonValue | undefined;
  reply: JsonValue | undefined;
  endedAt: number | undefined;
  latency: number | undefined;
  outcome: 'pending' | 'response' | 'error' | 'timeout' | 'cancelled';
  code: string | undefined;
}

/** Whether and how fast an acknowledged send was acknowledged. */
export interface AckState {
  outcome: 'pending' | 'acked' | 'refused' | 'timeout';
  latency: number | undefined;
  code: string | undefined;
}

/** Frames that carry application data: what "messages" counts. */
const DATA_FRAMES: ReadonlySet<string> = new Set(['message', 'publication', 'request', 'response']);

/** The whole state of one capture. */
export class CaptureModel {
  readonly log: Ring<LogEntry>;
  readonly connections = new Map<string, ConnectionInfo>();
  readonly channels = new Map<string, ChannelStats>();
  readonly pairs = new Map<string, RequestPair>();
  /** Acknowledged sends waiting for (or given) their ack, by `conn:id` (bounded like the pairs). */
  readonly #acks = new Map<string, AckState>();
  /** Kinds seen, for the type filter's options. */
  readonly kinds = new Set<string>();
  /** Incremented when a connection, channel or kind appears, or a status changes: what the selects and the connection strip show. */
  structure = 0;
  /** Time of the newest event, ms. */
  lastAt = 0;
  #filter: LogFilter = NO_FILTER;
  /** Numbers of the entries that pass the filter, oldest first, from index `#viewStart`. */
  #view: number[] = [];
  #viewStart = 0;

  constructor(capacity = DEFAULT_LOG_CAPACITY) {
    this.log = new Ring<LogEntry>(capacity);
  }

  get filter(): LogFilter {
    return this.#filter;
  }

  /** Sets the filter and rebuilds the view (one pass over the kept log). */
  setFilter(filter: LogFilter): void {
    this.#filter = filter;
    this.#view = [];
    this.#viewStart = 0;
    const { first, next } = this.log;
    for (let n = first; n < next; n++) {
      const entry = this.log.get(n);
      if (entry !== undefined && matches(entry, filter)) this.#view.push(n);
    }
  }

  /** Entries passing the filter. */
  get viewSize(): number {
    this.#trimView();
    return this.#view.length - this.#viewStart;
  }

  /** The `i`-th entry passing the filter, oldest first. */
  viewAt(i: number): LogEntry | undefined {
    this.#trimView();
    const n = this.#view[this.#viewStart + i];
    return n === undefined ? undefined : this.log.get(n);
  }

  /** Every event kept (what an export writes), oldest first. */
  events(): DebugEvent[] {
    const out: DebugEvent[] = [];
    for (const entry of this.log.toArray()) if (entry.record.type !== 'panel-action') out.push(entry.record);
    return out;
  }

  /** The connection `id`, created on first sight. */
  connection(id: string): ConnectionInfo {
    let conn = this.connections.get(id);
    if (conn === undefined) {
      conn = { id, url: '', actions: false, status: 'unknown', timeline: [], transports: new Set(), stream: undefined, disposed: false };
      this.connections.set(id, conn);
      this.structure++;
    }
    return conn;
  }

  /** The stats of `channel` on `conn`, created on first sight. */
  channel(conn: string, channel: string, transport: DebugTransport = 'ws'): ChannelStats {
    const key = `${conn}\u0000${channel}`;
    let stats = this.channels.get(key);
    if (stats === undefined) {
      stats = { key, conn, channel, transport, subscribers: undefined, state: undefined, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, lastSeq: undefined, epoch: undefined, gaps: 0, drops: 0, errors: 0, paused: false, requested: undefined, meter: new RateMeter() };
      this.channels.set(key, stats);
      this.connection(conn).transports.add(transport);
      this.structure++;
    }
    return stats;
  }

  /** Takes in events, in order. */
  ingest(events: readonly PanelRecord[]): void {
    for (const event of events) this.#ingest(event);
  }

  /**
   * Forgets the log, the pairs and the counters, keeping what is live:
   * connections with their current status, channels with their subscribers.
   */
  clear(): void {
    this.log.clear();
    this.pairs.clear();
    this.#acks.clear();
    this.#view = [];
    this.#viewStart = 0;
    for (const conn of this.connections.values()) conn.timeline.length = 0;
    for (const [key, c] of this.channels) {
      if (c.state === 'left') {
        this.channels.delete(key);
        continue;
      }
      Object.assign(c, { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, gaps: 0, drops: 0, errors: 0 });
    }
    this.structure++;
  }

  #trimView(): void {
    const first = this.log.first;
    while (this.#viewStart < this.#view.length && (this.#view[this.#viewStart] as number) < first) this.#viewStart++;
    if (this.#viewStart > 4096 && this.#viewStart > this.#view.length / 2) {
      this.#view = this.#view.slice(this.#viewStart);
      this.#viewStart = 0;
    }
  }

  #ingest(record: PanelRecord): void {
    if (record.at > this.lastAt) this.lastAt = record.at;
    let channel: string | undefined;
    let latency: number | undefined;
    let pair: RequestPair | undefined;
    let ack: AckState | undefined;
    let kind: string = record.type;
    switch (record.type) {
      case 'connection': {
        const conn = this.connection(record.conn);
        conn.url = record.url;
        conn.actions = record.actions;
        this.structure++;
        break;
      }
      case 'status': {
        const conn = this.connection(record.conn);
        if (!conn.disposed) conn.status = record.to;
        conn.timeline.push(record);
        if (conn.timeline.length > TIMELINE_MAX) conn.timeline.splice(0, conn.timeline.length - TIMELINE_MAX);
        this.structure++;
        break;
      }
      case 'frame':
        kind = record.frame;
        ({ channel, pair } = this.#frame(record));
        if (record.frame === 'message' && record.dir === 'out' && record.id !== undefined) ack = this.#ack(record.conn, record.id);
        break;
      case 'channel': {
        channel = record.channel;
        const stats = this.channel(record.conn, record.channel, record.transport);
        if (record.action === 'paused' || record.action === 'resumed') {
          // The tap's word, whoever asked (this panel, another debugger, a panel opened after the pause).
          stats.paused = record.action === 'paused';
          stats.requested = undefined;
          break;
        }
        stats.subscribers = record.subscribers;
        stats.state = record.action === 'join' ? 'joining' : record.action === 'joined' ? 'joined' : 'left';
        if (record.action === 'leave') {
          // A channel that left is not held any more (the core forgets its pause with it).
          stats.paused = false;
          stats.requested = undefined;
        }
        break;
      }
      case 'stream': {
        const conn = this.connection(record.conn);
        conn.transports.add(record.transport);
        conn.stream = {
          transport: record.transport,
          state: record.state,
          ...(record.retryIn === undefined ? {} : { retryIn: record.retryIn }),
          ...(record.code === undefined ? {} : { code: record.code }),
        };
        this.structure++;
        break;
      }
      case 'request': {
        channel = record.channel;
        const pair = this.#pair(record.conn, record.id);
        pair.channel ??= record.channel;
        pair.latency = record.latency;
        pair.outcome = record.outcome;
        pair.code = record.code;
        pair.endedAt ??= record.at;
        latency = record.latency;
        break;
      }
      case 'ack': {
        channel = record.channel;
        latency = record.latency;
        const sent = this.#acks.get(`${record.conn}:${record.id}`);
        if (sent !== undefined) Object.assign(sent, { outcome: record.outcome, latency: record.latency, code: record.code });
        break;
      }
      case 'gap': {
        channel = record.channel;
        const stats = this.channel(record.conn, record.channel, record.transport);
        stats.gaps++;
        stats.lastSeq = record.seq;
        if (record.epoch !== undefined) stats.epoch = record.epoch;
        break;
      }
      case 'drop':
        channel = record.channel;
        this.channel(record.conn, record.channel).drops++;
        break;
      case 'error':
        channel = record.channel;
        if (record.channel !== undefined) this.channel(record.conn, record.channel).errors++;
        break;
      case 'disposed': {
        const conn = this.connection(record.conn);
        conn.disposed = true;
        conn.actions = false;
        if (conn.status !== 'closed') conn.status = 'closed';
        for (const stats of this.channels.values()) {
          if (stats.conn !== record.conn) continue;
          stats.state = 'left';
          stats.paused = false;
          stats.requested = undefined;
        }
        this.structure++;
        break;
      }
      case 'panel-action':
        channel = record.action.type === 'drop' ? undefined : record.action.channel;
        // Shown as pending until the tap reports the channel paused or resumed.
        if (record.action.type === 'pause' || record.action.type === 'resume') this.channel(record.conn, record.action.channel).requested = record.action.type;
        break;
    }
    if (!this.kinds.has(kind)) {
      this.kinds.add(kind);
      this.structure++;
    }
    if (!this.connections.has(record.conn)) this.connection(record.conn);
    const entry: LogEntry = { n: this.log.next, record, channel, kind, ...(latency === undefined ? {} : { latency }), ...(pair === undefined ? {} : { pair }), ...(ack === undefined ? {} : { ack }) };
    const n = this.log.push(entry);
    if (matches(entry, this.#filter)) this.#view.push(n);
  }

  /** A new acknowledged send (a re-send after a reconnect keeps the first one's state). */
  #ack(conn: string, id: number): AckState {
    const key = `${conn}:${id}`;
    let ack = this.#acks.get(key);
    if (ack === undefined) {
      ack = { outcome: 'pending', latency: undefined, code: undefined };
      this.#acks.set(key, ack);
      if (this.#acks.size > PAIRS_MAX) this.#acks.delete(this.#acks.keys().next().value as string);
    }
    return ack;
  }

  #pair(conn: string, id: number): RequestPair {
    const key = `${conn}:${id}`;
    let pair = this.pairs.get(key);
    if (pair === undefined) {
      pair = { key, conn, id, channel: undefined, sentAt: undefined, request: undefined, reply: undefined, endedAt: undefined, latency: undefined, outcome: 'pending', code: undefined };
      this.pairs.set(key, pair);
      if (this.pairs.size > PAIRS_MAX) this.pairs.delete(this.pairs.keys().next().value as string);
    }
    return pair;
  }

  #frame(frame: DebugFrameEvent): { channel: string | undefined; pair: RequestPair | undefined } {
    let channel = frame.channel;
    let found: RequestPair | undefined;
    if (frame.frame === 'request' && frame.id !== undefined && frame.dir === 'out') {
      const pair = this.#pair(frame.conn, frame.id);
      // A re-send after a reconnect keeps the first send time: latency is what the app waited.
      pair.sentAt ??= frame.at;
      pair.channel = frame.channel;
      pair.request = frame.data;
      found = pair;
    } else if ((frame.frame === 'response' || frame.frame === 'request-error') && frame.id !== undefined && frame.dir === 'in') {
      const pair = this.pairs.get(`${frame.conn}:${frame.id}`);
      if (pair !== undefined) {
        channel ??= pair.channel;
        if (pair.endedAt === undefined || pair.outcome === 'pending') {
          pair.endedAt = frame.at;
          pair.outcome = frame.frame === 'response' ? 'response' : 'error';
          pair.code = frame.code;
          if (pair.sentAt !== undefined) pair.latency = frame.at - pair.sentAt;
        }
        if (frame.frame === 'response') pair.reply = frame.data;
        found = pair;
      }
    }
    if (channel !== undefined && frame.channel !== undefined) {
      const stats = this.channel(frame.conn, frame.channel, frame.transport);
      const counts = DATA_FRAMES.has(frame.frame);
      if (frame.dir === 'in') {
        stats.bytesIn += frame.bytes;
        if (counts) stats.messagesIn++;
      } else {
        stats.bytesOut += frame.bytes;
        if (counts) stats.messagesOut++;
      }
      if (counts) stats.meter.add(frame.at);
      if (frame.seq !== undefined && (frame.frame === 'publication' || frame.frame === 'subscribed' || frame.frame === 'gap' || frame.frame === 'reset')) stats.lastSeq = frame.seq;
      if (frame.epoch !== undefined && frame.frame !== 'subscribe') stats.epoch = frame.epoch;
          }
    return { channel, pair: found };
  }
}
