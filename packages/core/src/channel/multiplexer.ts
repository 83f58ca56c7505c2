import { BehaviorSubject, distinctUntilChanged, filter, finalize, map, Observable, Subject, takeUntil, type SchedulerLike, type Subscriber } from 'rxjs';
import type { RxmuxError } from '../protocol/errors.js';
import { encodeText } from '../protocol/codec.js';
import type { GapFrame, Payload, PublicationFrame, SubscribedFrame, UnsubscribedFrame } from '../protocol/frames.js';
import { RemoteError } from '../errors.js';
import { linger } from '../operators/linger.js';
import { Channel, CREATE_CHANNEL, type ChannelState, type ChannelTransport } from './channel.js';
import { Positions, type GapNotice } from './positions.js';

/** Most `Channel` objects kept for reuse by `conn.channel(id)`. */
const MAX_CACHED_CHANNELS = 1024;

/** What the multiplexer needs from its connection. @internal */
export interface MultiplexerHost {
  readonly scheduler: SchedulerLike;
  /** How long a channel stays joined after its last subscriber left, in ms. */
  readonly linger: number;
  /** Subscribing keeps the socket wanted; errors (once) when reconnecting gives up. */
  readonly demand$: Observable<unknown>;
  /** Emits once when the connection closes for good. */
  readonly closing$: Observable<void>;
  /** Whether the connection is closed for good. */
  closed(): boolean;
  /** Writes a control frame on the current socket, if one is welcomed (else the next welcome's re-join covers it). */
  control(wire: string): void;
  /** A channel was joined, confirmed, left, paused or resumed, with its local subscriber count (the debug tap listens). */
  channelEvent?(channel: string, action: 'join' | 'joined' | 'leave' | 'paused' | 'resumed', subscribers: number): void;
}

/**
 * The channel layer: one inbound stream per joined channel, found by a Map
 * lookup per frame (never a filter run by every subscriber), joined on the
 * server when its first subscriber arrives and left `linger` ms after the
 * last one is gone; where each channel stands in its history (positions),
 * and where its join stands on the server (states).
 *
 * ```
 *  frame ─▶ route(frame) ─▶ joined.get(channel) ─▶ positions (dedupe, gaps) ─▶ the channel's shared stream ─▶ subscribers
 *  channel(id).subscribe() ─▶ stream(id) ─▶ join: subscribe frame, 'joining' ─▶ subscribed: 'joined'
 * ```
 * @internal
 */
export class Multiplexer {
  /** Notices of messages lost for good, on any channel. */
  readonly gaps$: Observable<GapNotice>;
  readonly #gaps = new Subject<GapNotice>();
  /** Failures a channel survives (a refused send, a frame that failed to decode), on any channel. */
  readonly #problems = new Subject<{ readonly channel: string; readonly error: RxmuxError }>();
  readonly #positions = new Positions();
  /** `Channel` objects by id, for reuse (bounded). */
  readonly #channels = new Map<string, Channel<unknown, unknown>>();
  /** The shared stream of every joined (or lingering) channel, by id. */
  readonly #streams = new Map<string, Observable<Payload>>();
  /** Joined channels: the one inbound subscriber per channel (the shared stream's source). */
  readonly #joined = new Map<string, Subscriber<Payload>>();
  /** Join state per channel, kept while the channel is not idle or somebody watches it. */
  readonly #states = new Map<string, BehaviorSubject<ChannelState>>();
  /** Local subscribers per channel (what the debug tap reports; not used for routing). */
  readonly #subscribers = new Map<string, number>();
  /** Channels a debugger paused, with the values held back meanwhile, in order. */
  #paused: Map<string, Payload[]> | undefined;
  /** Channels whose subscribe went with the current socket's hello (the hello batch): the welcome's re-join skips them. */
  #withHello: Set<string> | undefined;

  constructor(private readonly host: MultiplexerHost) {
    this.gaps$ = this.#gaps.asObservable();
  }

  /** The `Channel` object for `id` (the same one while it is cached). */
  channel<In, Out>(id: string, transport: ChannelTransport): Channel<In, Out> {
    let channel = this.#channels.get(id);
    if (channel === undefined) {
      channel = Channel[CREATE_CHANNEL]<unknown, unknown>(id, {
        stream$: new Observable<Payload>((subscriber) => {
          this.#subscribers.set(id, (this.#subscribers.get(id) ?? 0) + 1);
          const subscription = this.#streamFor(id).subscribe(subscriber);
          return () => {
            const left = (this.#subscribers.get(id) ?? 1) - 1;
            if (left > 0) this.#subscribers.set(id, left);
            else this.#subscribers.delete(id);
            subscription.unsubscribe();
          };
        }),
        gaps$: this.gaps$,
        errors$: this.#problems.pipe(
          filter((problem) => problem.channel === id),
          map((problem) => problem.error),
        ),
        state$: this.#stateOf(id),
        ...transport,
      });
      this.#channels.set(id, channel);
      if (this.#channels.size > MAX_CACHED_CHANNELS) this.#evictChannels();
    }
    return channel as Channel<In, Out>;
  }

  /** Whether a channel is joined here (a publication for it is delivered). */
  isJoined(channel: string): boolean {
    return this.#joined.has(channel);
  }

  /** Joined channels and their local subscriber counts. */
  *joinedChannels(): Generator<readonly [channel: string, subscribers: number, confirmed: boolean]> {
    for (const id of this.#joined.keys()) yield [id, this.#subscribers.get(id) ?? 0, this.#states.get(id)?.value === 'joined'];
  }

  /** Channels whose delivery is paused. */
  pausedChannels(): Iterable<string> {
    return this.#paused?.keys() ?? [];
  }

  /** Holds back channel `id`'s values (in order) until {@link resume}: a debugger's pause. */
  pause(id: string): void {
    this.#paused ??= new Map();
    if (this.#paused.has(id)) return;
    this.#paused.set(id, []);
    this.host.channelEvent?.(id, 'paused', this.#subscribers.get(id) ?? 0);
  }

  /** Delivers what was held back, in order, and goes on. */
  resume(id: string): void {
    const held = this.#paused?.get(id);
    if (held === undefined) return;
    this.#paused?.delete(id);
    if (this.#paused?.size === 0) this.#paused = undefined;
    this.host.channelEvent?.(id, 'resumed', this.#subscribers.get(id) ?? 0);
    const joined = this.#joined.get(id);
    for (const data of held) joined?.next(data);
  }

  /**
   * The subscribe frames of the joined channels, with the position to resume
   * from, that ride with a new socket's hello (the hello batch): in join
   * order, as many as `fits` accepts. Remembered until the welcome.
   */
  helloFrames(fits: (wire: string) => boolean): string[] {
    const sent = new Set<string>();
    const frames: string[] = [];
    for (const id of this.#joined.keys()) {
      const wire = this.#subscribeFrame(id);
      if (!fits(wire)) break;
      sent.add(id);
      frames.push(wire);
    }
    this.#withHello = sent;
    return frames;
  }

  /**
   * What a welcome sends for the channels: `subscribe`, with the position to
   * resume from, for every joined channel whose subscribe did not go with
   * the hello, and `unsubscribe` for a channel that did and was left before
   * the welcome (the server joined it: PROTOCOL.md 5.6).
   */
  rejoinFrames(): string[] {
    const withHello = this.#withHello;
    this.#withHello = undefined;
    const frames: string[] = [];
    for (const id of withHello ?? []) if (!this.#joined.has(id)) frames.push(encodeText({ type: 'unsubscribe', channel: id }));
    for (const id of this.#joined.keys()) if (withHello?.has(id) !== true) frames.push(this.#subscribeFrame(id));
    return frames;
  }

  #subscribeFrame(id: string): string {
    return encodeText({ type: 'subscribe', channel: id, ...this.#positions.resumeFrom(id) });
  }

  /** The socket is gone: every joined channel waits for its re-join to be confirmed. */
  linkLost(): void {
    for (const id of this.#joined.keys()) this.#setState(id, 'joining');
  }

  /** A publication: delivered in seq order, duplicates dropped, a jump announced first. */
  publication(frame: PublicationFrame): void {
    const joined = this.#joined.get(frame.channel);
    if (joined === undefined) return; // left already: a publication in flight
    const verdict = this.#positions.publication(frame);
    if (verdict === 'duplicate') return;
    if (verdict !== undefined) this.#gaps.next(verdict);
    const held = this.#paused?.get(frame.channel);
    if (held !== undefined) held.push(frame.data);
    else joined.next(frame.data);
  }

  /** The server confirmed a join. */
  subscribed(frame: SubscribedFrame): void {
    if (!this.#joined.has(frame.channel)) return;
    const notice = this.#positions.subscribed(frame);
    if (notice !== undefined) this.#gaps.next(notice);
    this.#setState(frame.channel, 'joined');
    this.host.channelEvent?.(frame.channel, 'joined', this.#subscribers.get(frame.channel) ?? 0);
  }

  /** The server could not replay, or skipped a publication: the position jumps. */
  gap(frame: GapFrame): void {
    const notice = this.#positions.gap(frame);
    if (notice !== undefined) this.#gaps.next(notice);
  }

  /** A publication this client could not take (over its `maxFrameBytes`): skipped by its seq. */
  skip(channel: string, seq: number): void {
    if (!this.#joined.has(channel)) return;
    const notice = this.#positions.skip(channel, seq);
    if (notice !== undefined) this.#gaps.next(notice);
  }

  /** The server ended a subscription on its own: completes it, or errors it with the server's code. */
  unsubscribed(frame: UnsubscribedFrame): void {
    const joined = this.#end(frame.channel);
    if (frame.code === undefined) joined?.complete();
    else joined?.error(new RemoteError(frame.code, frame.reason ?? 'unsubscribed by the server', frame.channel));
  }

  /** A failure channel `channel` survives: told on its `errors$`, its subscribers go on. */
  report(channel: string, error: RxmuxError): void {
    this.#problems.next({ channel, error });
  }

  /** The connection closed for good: join states end. */
  close(): void {
    for (const state of this.#states.values()) {
      state.next('idle');
      state.complete();
    }
    this.#states.clear();
    this.#gaps.complete();
    this.#problems.complete();
  }

  #end(channel: string): Subscriber<Payload> | undefined {
    const joined = this.#joined.get(channel);
    if (joined === undefined) return undefined;
    this.#joined.delete(channel);
    this.#positions.leave(channel);
    this.#setState(channel, 'idle');
    return joined;
  }

  /**
   * The one shared stream of channel `id`, whichever `Channel` object asks:
   * created on first use, forgotten when its source ends (after the linger),
   * so the map only holds channels that are joined or lingering.
   */
  #streamFor(id: string): Observable<Payload> {
    let stream = this.#streams.get(id);
    if (stream === undefined) {
      const created: Observable<Payload> = this.#join(id).pipe(
        takeUntil(this.host.closing$),
        finalize(() => {
          if (this.#streams.get(id) === created) this.#streams.delete(id);
        }),
        linger(this.host.linger, this.host.scheduler),
      );
      stream = created;
      this.#streams.set(id, stream);
    }
    return stream;
  }

  /** The source of one channel's shared stream: joins on subscribe, leaves on unsubscribe. */
  #join(id: string): Observable<Payload> {
    return new Observable<Payload>((subscriber) => {
      if (this.host.closed()) {
        subscriber.complete(); // a Channel kept from before close(): nothing to join any more
        return;
      }
      this.#joined.set(id, subscriber);
      this.#positions.join(id);
      this.#setState(id, 'joining');
      this.host.channelEvent?.(id, 'join', this.#subscribers.get(id) ?? 0);
      const demand = this.host.demand$.subscribe({ error: (error: unknown) => subscriber.error(error) });
      this.host.control(encodeText({ type: 'subscribe', channel: id }));
      return () => {
        if (this.#joined.get(id) === subscriber) {
          this.#end(id);
          this.host.control(encodeText({ type: 'unsubscribe', channel: id }));
          this.#paused?.delete(id);
          this.host.channelEvent?.(id, 'leave', 0);
        }
        demand.unsubscribe();
      };
    });
  }

  /** Channel `id`'s join state, replayed; the subject exists while it is not idle or observed. */
  #stateOf(id: string): Observable<ChannelState> {
    return new Observable<ChannelState>((subscriber) => {
      let state = this.#states.get(id);
      if (state === undefined) this.#states.set(id, (state = new BehaviorSubject<ChannelState>('idle')));
      const held = state;
      const subscription = held.subscribe(subscriber);
      return () => {
        subscription.unsubscribe();
        if (!held.observed && held.value === 'idle' && this.#states.get(id) === held) this.#states.delete(id);
      };
    }).pipe(distinctUntilChanged());
  }

  #setState(id: string, to: ChannelState): void {
    const state = this.#states.get(id);
    if (state !== undefined) {
      state.next(to);
      if (to === 'idle' && !state.observed) this.#states.delete(id);
    } else if (to !== 'idle') {
      this.#states.set(id, new BehaviorSubject<ChannelState>(to));
    }
  }

  /**
   * Keeps the cache of `Channel` objects bounded (an app may send on many
   * short-lived channel ids): the oldest objects whose channel is not joined
   * are dropped. A dropped object held by a component keeps working: it
   * finds its stream by id.
   */
  #evictChannels(): void {
    for (const id of this.#channels.keys()) {
      if (this.#channels.size <= MAX_CACHED_CHANNELS / 2) return;
      if (!this.#streams.has(id)) this.#channels.delete(id);
    }
  }
}
