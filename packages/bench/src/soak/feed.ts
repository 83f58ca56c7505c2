/**
 * The feed legitimate clients receive during a soak or an attack, and how
 * they account for it: what was lost, duplicated or reordered, and the
 * delivery latency of every message.
 *
 * The publisher numbers its messages 1, 2, 3, … and stamps each with the time
 * it was *due* (not the time the timer fired): a server whose event loop is
 * blocked publishes late, and that delay counts as delivery latency, as the
 * user would see it.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { wall } from '../util.js';

/** One feed message: its number, when it was due (wall clock, ms) and padding to its size. */
export interface FeedMessage {
  readonly n: number;
  readonly t: number;
  readonly pad: string;
}

/** Whether `value` looks like a {@link FeedMessage}. */
export function isFeedMessage(value: unknown): value is FeedMessage {
  return typeof value === 'object' && value !== null && typeof (value as FeedMessage).n === 'number' && typeof (value as FeedMessage).t === 'number';
}

/**
 * Publishes `rate` messages per second through `publish`, each due at
 * `start + n / rate`; a late timer publishes every message that is due, with
 * its due time. Bounded: it stops itself after `maxMessages`.
 */
export class Feed {
  #n = 0;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #startN = 0;
  readonly #pad: string;

  constructor(
    private readonly publish: (message: FeedMessage) => void,
    private readonly rate: number,
    bytes: number,
    private readonly maxMessages = 10_000_000,
  ) {
    this.#pad = 'x'.repeat(Math.max(0, bytes - 40));
  }

  /** The number of the last message published (0 before any). */
  get published(): number {
    return this.#n;
  }

  /** Whether the feed is running. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts (or resumes) publishing; numbering continues where it stopped. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#startedAt = wall();
    this.#startN = this.#n;
    this.#schedule();
  }

  /** Stops publishing; returns the number of the last message published. */
  stop(): number {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#n;
  }

  /** The next message's due time (wall clock, ms). */
  #due(): number {
    return this.#startedAt + ((this.#n - this.#startN + 1) * 1000) / this.rate;
  }

  /** A timer for the next due time: the feed's own timing adds no latency of its own beyond the timer's (about 1 ms). */
  #schedule(): void {
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, this.#due() - wall()));
  }

  #tick(): void {
    const now = wall();
    // Every message whose due time has passed goes out now, stamped with that due time.
    for (let due = this.#due(); due <= now; due = this.#due()) {
      if (this.#n >= this.maxMessages) {
        this.stop();
        return;
      }
      this.#n++;
      this.publish({ n: this.#n, t: due, pad: this.#pad });
    }
    if (this.#timer !== undefined) this.#schedule();
  }
}

/** What one client saw of the feed in a measurement window. */
export interface ClientTally {
  /** Messages of the window that arrived in order, once. */
  delivered: number;
  /** Messages that arrived again, or behind a later one. */
  duplicated: number;
  /** The highest number seen (any window). */
  last: number;
  /** Times the connection left `open` after it was first open. */
  disconnects: number;
}

/** Delivery figures of many clients over one window. */
export interface DeliveryReport {
  readonly clients: number;
  /** First and last message number of the window. */
  readonly from: number;
  readonly to: number;
  /** Messages every client should have got: clients × (to − from + 1). */
  readonly expected: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Connections that left `open` during the window, and clients that ended `failed`. */
  readonly disconnects: number;
  /** Clients that had not caught up with `to` when the report was made. */
  readonly behind: number;
  /** Delivery latency (due time → arrival), milliseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly samples: number;
}

/**
 * The accounting of many clients receiving one feed. A window starts with
 * {@link arm} (the first number it counts) and ends with {@link report} (the
 * last): each client must see every number in between exactly once, in order.
 */
export class Tracker {
  readonly #tallies: ClientTally[] = [];
  #from = 1;
  #latency: RecordableHistogram = createHistogram();

  /** A new client; returns its tally and the function to call with each message it receives. */
  add(): { readonly tally: ClientTally; readonly receive: (value: unknown) => void } {
    const tally: ClientTally = { delivered: 0, duplicated: 0, last: 0, disconnects: 0 };
    this.#tallies.push(tally);
    return { tally, receive: (value) => this.#receive(tally, value) };
  }

  /** Every client's tally. */
  get tallies(): readonly ClientTally[] {
    return this.#tallies;
  }

  /** Starts a window: numbers from `from` on count. */
  arm(from: number): void {
    this.#from = from;
    this.#latency = createHistogram();
    for (const t of this.#tallies) {
      t.delivered = 0;
      t.duplicated = 0;
      t.disconnects = 0;
    }
  }

  /** Whether every client has seen `to` (or a later number). */
  caughtUp(to: number): boolean {
    return this.#tallies.every((t) => t.last >= to);
  }

  /** The window's figures, up to message `to` (call once every client caught up, or the wait gave up). */
  report(to: number): DeliveryReport {
    const perClient = Math.max(0, to - this.#from + 1);
    let delivered = 0;
    let duplicated = 0;
    let disconnects = 0;
    let behind = 0;
    for (const t of this.#tallies) {
      delivered += Math.min(t.delivered, perClient);
      duplicated += t.duplicated;
      disconnects += t.disconnects;
      if (t.last < to) behind++;
    }
    const expected = perClient * this.#tallies.length;
    const h = this.#latency;
    const ms = (ns: number): number => ns / 1e6;
    return {
      clients: this.#tallies.length,
      from: this.#from,
      to,
      expected,
      delivered,
      lost: expected - delivered,
      duplicated,
      disconnects,
      behind,
      p50: h.count > 0 ? ms(h.percentile(50)) : Number.NaN,
      p99: h.count > 0 ? ms(h.percentile(99)) : Number.NaN,
      max: h.count > 0 ? ms(h.max) : Number.NaN,
      samples: h.count,
    };
  }

  #receive(tally: ClientTally, value: unknown): void {
    if (!isFeedMessage(value)) return;
    const { n } = value;
    if (n <= tally.last) {
      tally.duplicated++;
      return;
    }
    tally.last = n;
    if (n < this.#from) return;
    tally.delivered++;
    // Histograms record integers ≥ 1: latency in nanoseconds.
    this.#latency.record(Math.max(1, Math.round((wall() - value.t) * 1e6)));
  }
}
