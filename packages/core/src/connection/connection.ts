import {
  asyncScheduler,
  BehaviorSubject,
  defer,
  distinctUntilChanged,
  finalize,
  interval,
  map,
  Observable,
  retry,
  share,
  Subject,
  takeUntil,
  throwError,
  timeout,
  timer,
  type SchedulerLike,
  Subscription,
  type Subscriber,
} from 'rxjs';
import { channelIdProblem, encodeText, peekPublication } from '../protocol/codec.js';
import { CloseCode, isRetryableClose } from '../protocol/close-codes.js';
import { ErrorCode, ProtocolError, RxmuxError } from '../protocol/errors.js';
import { PROTOCOL_VERSION, type Frame, type JsonValue, type Payload, type WelcomeFrame } from '../protocol/frames.js';
import { Channel, type ChannelState, type Outgoing, type RequestOptions } from '../channel/channel.js';
import { Positions, type GapNotice } from '../channel/positions.js';
import { Outbox, type Ack, type DropReason } from './outbox.js';
import { createEventStream, type EventStream, type EventStreamOptions } from '../sse/index.js';
import {
  AckTimeoutError,
  ConnectionClosedError,
  ConnectionLostError,
  InvalidArgumentError,
  ReconnectFailedError,
  RemoteError,
  RequestTimeoutError,
} from '../errors.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../operators/backoff.js';
import { DEFAULT_HEARTBEAT, heartbeat, type HeartbeatOptions } from '../operators/heartbeat.js';
import { linger } from '../operators/linger.js';
import { DEFAULT_BUFFER, type BufferOptions } from './buffer.js';
import { Link, linkLimits, MAX_BATCH } from './link.js';
import { canTransition, type ConnectionStatus, type StatusTransition } from './status.js';
import { openSocket, type WebSocketConstructor, type WebSocketLike } from './transport.js';

/** Options of {@link connect}. All are optional; the defaults suit a browser page. */
export interface ConnectOptions {
  /** WebSocket constructor. Default: `globalThis.WebSocket` (in Node 20 pass `WebSocket` from `ws`). */
  readonly WebSocket?: WebSocketConstructor;
  /** Scheduler for every timer (backoff, heartbeat, linger, timeouts). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Reconnect policy. Defaults: 500 ms, ×2, 30 s cap, 50 % jitter, unlimited attempts. */
  readonly reconnect?: Partial<BackoffPolicy>;
  /** Random source for jitter, 0 ≤ x < 1. Default `Math.random`. */
  readonly random?: () => number;
  /** Client heartbeat, or `false` to rely on the server's. Default `{ interval: 25000, timeout: 10000 }`. */
  readonly heartbeat?: Partial<HeartbeatOptions> | false;
  /** Most time from opening a socket to its first event, in ms. Default 10 000. */
  readonly connectTimeout?: number;
  /** How long a channel (and a send-only connection) stays joined after its last subscriber leaves, in ms. Default 1 000. */
  readonly linger?: number;
  /** Offline buffer bounds. Defaults: 100 messages, 1 MiB, `'drop-oldest'`. */
  readonly buffer?: Partial<BufferOptions>;
  /** Largest frame accepted from the server and largest batch written, in bytes. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Default timeout of `channel.request()`, in ms. Default 30 000. */
  readonly requestTimeout?: number;
  /** `false` creates a separate connection instead of sharing the pooled one. Default `true`. */
  readonly shared?: boolean;
  /**
   * Options of the single EventSource (or long-poll loop) behind `conn.events()`:
   * `EventSource` and `fetch` implementations, `forceLongPoll`, `withCredentials`, timings.
   */
  readonly eventStream?: EventStreamOptions;
}

/** A message the connection could not deliver, reported on `conn.dropped$`. */
export interface DroppedMessage {
  readonly channel: string;
  /** The encoded frame that was dropped. */
  readonly wire: string | Uint8Array;
  /**
   * `'overflow'` (buffer full, drop-oldest), `'failed'` (reconnect gave up),
   * `'closed'` (`conn.close()`), or `'unconfirmed'` (written to a socket that
   * died before the server confirmed it, and the session could not be
   * resumed: it may or may not have arrived).
   */
  readonly reason: DropReason;
  /** The message id, when the message had asked for an ack (its ack Observable errors too). */
  readonly id?: number;
}

const OPEN = 1;
const utf8 = new TextEncoder();
/** Most `Channel` objects kept for reuse by `conn.channel(id)`. */
const MAX_CACHED_CHANNELS = 1024;
/** Key for the pool's ref counting; not part of the public API. */
export const RETAIN: unique symbol = Symbol('rxmux.retain');

/**
 * A pooled connection: one WebSocket shared by every channel on the page.
 * Obtain it with {@link connect}; it opens the socket when the first channel
 * needs it and closes it when the last one is gone.
 */
export class Connection {
  /** The WebSocket URL. */
  readonly url: string;
  /** Current status, replayed to every new subscriber. See {@link ConnectionStatus} for the transition table. */
  readonly status$: Observable<ConnectionStatus>;
  /** Every status change with its cause (attempt number, retry delay, close code). Hot, not replayed. */
  readonly transitions$: Observable<StatusTransition>;
  /** Messages the connection had to drop (buffer overflow, reconnect failure, close). Never silent. */
  readonly dropped$: Observable<DroppedMessage>;
  /** Connection-level problems that concern no channel: undecodable frames, error frames without a channel. */
  readonly errors$: Observable<RxmuxError>;

  readonly #status = new BehaviorSubject<ConnectionStatus>('closed');
  readonly #transitions = new Subject<StatusTransition>();
  readonly #dropped = new Subject<DroppedMessage>();
  readonly #errors = new Subject<RxmuxError>();
  readonly #closing = new Subject<void>();
  readonly #channels = new Map<string, Channel<unknown>>();
  /** The shared stream of every joined (or lingering) channel, by id. */
  readonly #streams = new Map<string, Observable<Payload>>();
  /** Joined channels: the one inbound subscriber per channel (the shared stream's source). */
  readonly #joined = new Map<string, Subscriber<Payload>>();
  readonly #gaps = new Subject<GapNotice>();
  /** Join state per channel, kept while the channel is not idle or somebody watches it. */
  readonly #states = new Map<string, BehaviorSubject<ChannelState>>();
  readonly #positions = new Positions();
  readonly #outbox: Outbox;
  readonly #session$: Observable<Link>;
  /** `#session$` behind a linger: what a buffered send holds until the buffer is flushed. */
  readonly #demand$: Observable<Link>;
  readonly #ctor: WebSocketConstructor;
  readonly #scheduler: SchedulerLike;
  readonly #backoff: BackoffPolicy;
  readonly #heartbeat: HeartbeatOptions | false;
  readonly #random: () => number;
  readonly #options: Required<Pick<ConnectOptions, 'connectTimeout' | 'linger' | 'maxFrameBytes' | 'requestTimeout'>>;
  readonly #release: (() => void) | undefined;
  readonly #eventStreamOptions: EventStreamOptions;
  #eventStream: EventStream | undefined;
  #link: Link | undefined;
  #hold: Subscription | undefined;
  readonly #transitionQueue: Array<{ to: ConnectionStatus; detail: Omit<StatusTransition, 'from' | 'to' | 'at'> }> = [];
  /** Which demand cycle of the socket is current: a finished cycle must not touch the status of a newer one. */
  #cycle = 0;
  #session: string | undefined;
  #nextId = 1;
  #refs = 1;
  #closed = false;

  /** @internal Use {@link connect}. */
  constructor(url: string, options: ConnectOptions = {}, release?: () => void) {
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (ctor === undefined) {
      throw new InvalidArgumentError('no WebSocket constructor: pass { WebSocket } (in Node 20: import { WebSocket } from "ws")');
    }
    this.url = url;
    this.#ctor = ctor;
    this.#release = release;
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.reconnect };
    this.#heartbeat = options.heartbeat === false ? false : { ...DEFAULT_HEARTBEAT, ...options.heartbeat };
    this.#random = options.random ?? Math.random;
    this.#eventStreamOptions = { scheduler: this.#scheduler, linger: options.linger ?? 1_000, ...options.eventStream };
    this.#options = {
      connectTimeout: options.connectTimeout ?? 10_000,
      linger: options.linger ?? 1_000,
      maxFrameBytes: options.maxFrameBytes ?? 1024 * 1024,
      requestTimeout: options.requestTimeout ?? 30_000,
    };
    for (const [name, value] of Object.entries({ ...this.#options, ...this.#backoff })) {
      if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
        throw new InvalidArgumentError(`option ${name} must be a non-negative number, got ${String(value)}`);
      }
    }
    this.#outbox = new Outbox({ ...DEFAULT_BUFFER, ...options.buffer }, (item, reason) => {
      this.#dropped.next({ channel: item.channel, wire: item.wire, reason, ...(item.id === undefined ? {} : { id: item.id }) });
    });

    this.status$ = this.#status.pipe(distinctUntilChanged());
    this.transitions$ = this.#transitions.asObservable();
    this.dropped$ = this.#dropped.asObservable();
    this.errors$ = this.#errors.asObservable();

    this.#session$ = defer(() => {
      const cycle = ++this.#cycle;
      return defer(() => this.#openSession()).pipe(
        retry({ resetOnSuccess: true, delay: (error: unknown, attempt: number) => this.#retryDelay(error, attempt) }),
        finalize(() => {
          if (cycle === this.#cycle) this.#onIdle();
        }),
      );
    }).pipe(share({ resetOnError: true, resetOnComplete: true, resetOnRefCountZero: true }));
    this.#demand$ = this.#session$.pipe(takeUntil(this.#closing), linger(this.#options.linger, this.#scheduler));
  }

  /**
   * The channel `id`, as a shared hot Observable with `send`, `sendBinary`
   * and `request`. The same id returns the same {@link Channel} while it is in
   * use; in any case every object for an id shares one stream and one join.
   * Throws `InvalidArgumentError` for an invalid id and `ConnectionClosedError` after `close()`.
   */
  channel<T = unknown>(id: string): Channel<T> {
    this.#assertOpen();
    const problem = channelIdProblem(id);
    if (problem !== undefined) throw new InvalidArgumentError(problem);
    let channel = this.#channels.get(id);
    if (channel === undefined) {
      channel = new Channel<unknown>(id, {
        stream$: defer(() => this.#streamFor(id)),
        gaps$: this.#gaps.asObservable(),
        state$: this.#stateOf(id),
        nextId: () => this.#nextId++,
        send: (frame) => this.#send(id, frame),
        sendWithAck: (frame, messageId, ackTimeout) => this.#sendWithAck(id, frame, messageId, ackTimeout),
        request: (data, options) => this.#request(id, data, options),
      });
      this.#channels.set(id, channel);
      if (this.#channels.size > MAX_CACHED_CHANNELS) this.#evictChannels();
    }
    return channel as Channel<T>;
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
        takeUntil(this.#closing),
        finalize(() => {
          if (this.#streams.get(id) === created) this.#streams.delete(id);
        }),
        linger(this.#options.linger, this.#scheduler),
      );
      stream = created;
      this.#streams.set(id, stream);
    }
    return stream;
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

  /**
   * The server-sent channel `id`, carried by the page's single EventSource
   * (created on first use, shared by every `events()` channel of this
   * connection), or by one long-poll loop where `EventSource` is missing or
   * `eventStream.forceLongPoll` is set. Hot and ref-counted like `channel()`;
   * resumes with `Last-Event-ID` after a reconnect. Receive-only: send over `channel(id)`.
   *
   * @example
   * conn.events<Score>('match-score').subscribe((score) => render(score));
   */
  events<T = unknown>(id: string): Observable<T> {
    this.#assertOpen();
    const problem = channelIdProblem(id);
    if (problem !== undefined) throw new InvalidArgumentError(problem);
    return this.#stream().events<T>(id).pipe(takeUntil(this.#closing));
  }

  /** Gap notices of the `events()` channels: what the server could not replay after the EventSource reconnected. */
  get eventGaps$(): Observable<GapNotice> {
    return this.#stream().resets$.pipe(
      map((reset): GapNotice => ({ channel: reset.channel, reason: reset.reason, since: undefined, seq: reset.seq, epoch: reset.epoch })),
      takeUntil(this.#closing),
    );
  }

  #stream(): EventStream {
    this.#eventStream ??= createEventStream(this.url, this.#eventStreamOptions);
    return this.#eventStream;
  }

  /**
   * Releases this reference to the pooled connection. When the last
   * reference is released the connection closes for good: channels complete,
   * pending requests error with `ConnectionClosedError`, buffered messages are
   * reported on `dropped$`, the socket closes with 1000 and is never reopened.
   */
  close(): void {
    if (this.#closed) return;
    if (--this.#refs > 0) return;
    this.#closed = true;
    this.#release?.();
    this.#outbox.failAll(new ConnectionClosedError(), 'closed');
    this.#closing.next();
    this.#hold?.unsubscribe();
    this.#hold = undefined;
    this.#transition('closed');
    for (const state of this.#states.values()) {
      state.next('idle');
      state.complete();
    }
    this.#states.clear();
    for (const subject of [this.#closing, this.#transitions, this.#dropped, this.#errors, this.#gaps, this.#status]) subject.complete();
  }

  /** @internal Pool ref counting. */
  [RETAIN](): this {
    this.#refs++;
    return this;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConnectionClosedError('connection used after close()');
  }

  #transition(to: ConnectionStatus, detail: Omit<StatusTransition, 'from' | 'to' | 'at'> = {}): void {
    // A transition caused by a status$ or transitions$ subscriber runs after the current one
    // has been announced on both streams, so they tell the changes in the same order.
    this.#transitionQueue.push({ to, detail });
    if (this.#transitionQueue.length > 1) return;
    while (this.#transitionQueue.length > 0) {
      const next = this.#transitionQueue[0] as { to: ConnectionStatus; detail: Omit<StatusTransition, 'from' | 'to' | 'at'> };
      const from = this.#status.value;
      if (!this.#status.closed && canTransition(from, next.to)) {
        this.#status.next(next.to);
        this.#transitions.next({ from, to: next.to, at: this.#scheduler.now(), ...next.detail });
      }
      this.#transitionQueue.shift();
    }
  }

  /** One socket from open to loss: emits the Link once the welcome arrived. */
  #openSession(): Observable<Link> {
    return new Observable<Link>((subscriber) => {
      if (this.#status.value === 'closed' || this.#status.value === 'failed') this.#transition('connecting');
      let socket: WebSocketLike | undefined;
      let link: Link | undefined;
      /** Envelopes written before the welcome (the hello, pongs): the server charged them to this socket's rate. */
      let spent = 0;
      const pings = new Subscription();
      const events = openSocket(this.#ctor, this.url, { maxFrameBytes: this.#options.maxFrameBytes })
        .pipe(
          heartbeat(
            this.#heartbeat,
            this.#options.connectTimeout,
            this.#scheduler,
            () => {
              if (socket?.readyState === OPEN) socket.close(CloseCode.HeartbeatTimeout, 'heartbeat timeout');
            },
            // connected means welcomed: an open socket that never answers hello is bounded by connectTimeout
            (event) => event.kind === 'frames' && event.result.frames.some((frame) => frame.type === 'welcome'),
          ),
        )
        .subscribe({
          next: (event) => {
            if (event.kind === 'open') {
              socket = event.socket;
              socket.send(
                encodeText({
                  type: 'hello',
                  version: PROTOCOL_VERSION,
                  ...(this.#session ? { session: this.#session } : {}),
                  limits: { maxFrameBytes: this.#options.maxFrameBytes, maxBatch: MAX_BATCH },
                }),
              );
              spent = 1;
              return;
            }
            for (const error of event.result.errors) this.#decodeError(error, event.raw);
            for (const frame of event.result.frames) {
              if (subscriber.closed) return;
              if (link !== undefined) {
                this.#route(frame, link);
              } else if (frame.type === 'welcome' && socket !== undefined) {
                const created = new Link(
                  socket,
                  linkLimits(frame.limits, this.#options.maxFrameBytes),
                  this.#scheduler,
                  () => this.#drained(created),
                  spent,
                );
                link = created;
                this.#session = frame.session;
                if (this.#heartbeat !== false) {
                  const live = link;
                  pings.add(interval(this.#heartbeat.interval, this.#scheduler).subscribe(() => {
                    live.write(encodeText({ type: 'ping', t: Math.round(this.#scheduler.now()) }), true);
                  }));
                }
                this.#onWelcome(link, frame);
                // The retry counter resets only for a link that stayed up `minUptime`: a server that
                // welcomes and then drops the link (a poison message, a crash loop) still backs off.
                const stable = link;
                pings.add(this.#scheduler.schedule(() => subscriber.next(stable), this.#backoff.minUptime));
              } else {
                if (this.#routeBeforeWelcome(frame, socket)) spent++;
              }
            }
          },
          error: (error: unknown) => subscriber.error(error),
        });
      return () => {
        pings.unsubscribe();
        if (link !== undefined) {
          link.close(socket?.readyState === OPEN);
          if (this.#link === link) {
            this.#link = undefined;
            for (const id of this.#joined.keys()) this.#setState(id, 'joining'); // confirmed again after the next welcome
          }
        }
        events.unsubscribe();
      };
    });
  }

  /**
   * A welcome arrived: re-join every active channel (asking for what it
   * missed), re-send what is still in flight, then flush the offline buffer,
   * all in order and in one write.
   */
  #onWelcome(link: Link, welcome: WelcomeFrame): void {
    this.#link = link;
    for (const id of [...this.#joined.keys()]) {
      link.write(encodeText({ type: 'subscribe', channel: id, ...this.#positions.resumeFrom(id) }), true);
    }
    this.#outbox.welcomed(link, welcome.resumed === true, welcome.received);
    link.flush();
    // Announced last: code reacting to 'open' (joining channels, sending) finds everything re-joined and flushed.
    this.#transition('open');
    this.#updateHold();
  }

  /** Holds the socket open while the outbox has work (buffered frames, unacked messages), lingering after. */
  #updateHold(): void {
    if (this.#outbox.busy) {
      if (this.#hold !== undefined) return;
      let hold: Subscription | undefined;
      hold = this.#demand$.subscribe({
        error: () => {
          if (this.#hold === hold) this.#hold = undefined;
          // Work queued while it was failing (e.g. from an ack's error handler) needs a new hold.
          if (!this.#closed) this.#updateHold();
        },
      });
      if (!hold.closed) this.#hold = hold;
    } else if (this.#hold !== undefined) {
      const hold = this.#hold;
      this.#hold = undefined;
      hold.unsubscribe();
    }
  }

  /** A frame before the welcome. Returns whether it was answered (a pong: one more envelope on this socket). */
  #routeBeforeWelcome(frame: Frame, socket: WebSocketLike | undefined): boolean {
    if (frame.type === 'ping' && socket !== undefined) {
      socket.send(encodeText({ type: 'pong', ...(frame.t === undefined ? {} : { t: frame.t }) }));
      return true;
    }
    if (frame.type === 'error') this.#errors.next(new RemoteError(frame.code, frame.message, frame.channel));
    else if (frame.type !== 'pong') this.#unexpected(frame);
    return false;
  }

  /** The link can take data again (its rate budget is back): the buffer goes first. */
  #drained(link: Link): void {
    if (this.#link !== link) return;
    this.#outbox.drain(link);
    this.#updateHold();
  }

  #route(frame: Frame, link: Link): void {
    switch (frame.type) {
      case 'publication': {
        const joined = this.#joined.get(frame.channel);
        if (joined === undefined) return; // left already: a publication in flight
        const verdict = this.#positions.publication(frame);
        if (verdict === 'duplicate') return;
        if (verdict !== undefined) this.#gaps.next(verdict);
        joined.next(frame.data);
        return;
      }
      case 'subscribed': {
        if (!this.#joined.has(frame.channel)) return;
        const notice = this.#positions.subscribed(frame);
        if (notice !== undefined) this.#gaps.next(notice);
        this.#setState(frame.channel, 'joined');
        return;
      }
      case 'gap': {
        const notice = this.#positions.gap(frame);
        if (notice !== undefined) this.#gaps.next(notice);
        if (frame.reason === 'too-big') {
          this.#errors.next(new ProtocolError(ErrorCode.FrameTooBig, `publication ${frame.seq} on "${frame.channel}" is larger than maxFrameBytes ${this.#options.maxFrameBytes}: skipped`, { channel: frame.channel }));
        }
        return;
      }
      case 'receipt':
        this.#outbox.receipted(frame.received);
        this.#updateHold();
        return;
      case 'pong':
        return;
      case 'ping':
        link.write(encodeText({ type: 'pong', ...(frame.t === undefined ? {} : { t: frame.t }) }), true);
        return;
      case 'unsubscribed': {
        const joined = this.#joined.get(frame.channel);
        this.#joined.delete(frame.channel);
        this.#positions.leave(frame.channel);
        this.#setState(frame.channel, 'idle');
        if (frame.code === undefined) joined?.complete();
        else joined?.error(new RemoteError(frame.code, frame.reason ?? 'unsubscribed by the server', frame.channel));
        return;
      }
      case 'error': {
        const error = new RemoteError(frame.code, frame.message, frame.channel);
        if (frame.id !== undefined && this.#outbox.refused(frame.id, error)) {
          this.#updateHold();
          return; // the error concerns one message: its ack errors, the channel goes on
        }
        const joined = frame.channel === undefined ? undefined : this.#joined.get(frame.channel);
        if (joined === undefined) {
          this.#errors.next(error);
          return;
        }
        this.#joined.delete(frame.channel as string);
        this.#positions.leave(frame.channel as string);
        this.#setState(frame.channel as string, 'idle');
        joined.error(error);
        return;
      }
      case 'response':
        // Unknown ids were answered after a cancel or a timeout: nothing waits for them.
        this.#outbox.answered(frame.id, { data: frame.data });
        return;
      case 'request-error':
        this.#outbox.answered(frame.id, { error: new RemoteError(frame.code, frame.message) });
        return;
      case 'ack':
        this.#outbox.acked(frame.id);
        this.#updateHold();
        return;
      default:
        this.#unexpected(frame);
    }
  }

  /** A frame failed to decode: reported; one refused as too big is skipped by its seq, so it is not replayed forever. */
  #decodeError(error: ProtocolError, raw: unknown): void {
    this.#errors.next(error);
    if (error.code !== ErrorCode.FrameTooBig) return;
    const peek = peekPublication(raw);
    if (peek?.seq === undefined || !this.#joined.has(peek.channel)) return;
    const notice = this.#positions.skip(peek.channel, peek.seq);
    if (notice !== undefined) this.#gaps.next(notice);
  }

  #unexpected(frame: Frame): void {
    this.#errors.next(new RxmuxError(ErrorCode.UnexpectedFrame, `unexpected ${frame.type} frame from the server`));
  }

  #retryDelay(error: unknown, attempt: number): Observable<number> {
    const detail = {
      attempt,
      reason: error instanceof ConnectionLostError ? error.reason : error instanceof Error ? error.message : String(error),
      ...(error instanceof ConnectionLostError ? { code: error.closeCode } : {}),
      ...(error instanceof Error ? { error } : {}),
    };
    const fatal =
      (error instanceof ConnectionLostError && !isRetryableClose(error.closeCode)) ||
      (error instanceof RxmuxError && (error.code === ErrorCode.UnsupportedProtocol || error.code === ErrorCode.InvalidArgument));
    if (fatal || attempt > this.#backoff.maxAttempts || this.#closed) {
      const failure = new ReconnectFailedError(attempt - 1, error);
      this.#transition('failed', { ...detail, error: failure });
      this.#outbox.failAll(failure, 'failed');
      return throwError(() => failure);
    }
    const retryIn = backoffDelay(attempt, this.#backoff, this.#random);
    this.#transition('reconnecting', { ...detail, retryIn });
    return timer(retryIn, this.#scheduler);
  }

  #onIdle(): void {
    this.#link = undefined;
    if (this.#status.value !== 'failed') this.#transition('closed');
  }

  /** The source of one channel's shared stream: joins on subscribe, leaves on unsubscribe. */
  #join(id: string): Observable<Payload> {
    return new Observable<Payload>((subscriber) => {
      if (this.#closed) {
        subscriber.complete(); // a Channel kept from before close(): nothing to join any more
        return;
      }
      this.#joined.set(id, subscriber);
      this.#positions.join(id);
      this.#setState(id, 'joining');
      const demand = this.#session$.subscribe({ error: (error: unknown) => subscriber.error(error) });
      this.#link?.write(encodeText({ type: 'subscribe', channel: id }), true);
      return () => {
        if (this.#joined.get(id) === subscriber) {
          this.#joined.delete(id);
          this.#positions.leave(id);
          this.#setState(id, 'idle');
          this.#link?.write(encodeText({ type: 'unsubscribe', channel: id }), true);
        }
        demand.unsubscribe();
      };
    });
  }

  /**
   * Refuses, at once, a frame the server would refuse with close 1009: sent
   * anyway it would cost the connection, and an acked one would be re-sent
   * after every reconnect.
   */
  #checkSize(channel: string, frame: Outgoing): void {
    const max = this.#options.maxFrameBytes;
    const bytes =
      typeof frame.wire !== 'string' ? frame.wire.byteLength
      : frame.wire.length * 3 <= max ? frame.wire.length // cannot exceed: skip the exact count
      : utf8.encode(frame.wire).byteLength;
    if (bytes > max) {
      throw new ProtocolError(ErrorCode.FrameTooBig, `message of ${bytes} bytes on "${channel}" exceeds maxFrameBytes ${max}`);
    }
  }

  #send(channel: string, frame: Outgoing, id?: number): void {
    this.#assertOpen();
    this.#checkSize(channel, frame);
    this.#outbox.send({ kind: 'message', channel, wire: frame.wire, bytes: frame.bytes, ...(id === undefined ? {} : { id }) }, this.#link);
    this.#updateHold();
  }

  #sendWithAck(channel: string, frame: Outgoing, id: number, ackTimeout: number | undefined): Observable<Ack> {
    this.#assertOpen();
    this.#checkSize(channel, frame);
    if (ackTimeout !== undefined && !(ackTimeout >= 0)) throw new InvalidArgumentError(`ack timeout must be a non-negative number, got ${ackTimeout}`);
    const ack = this.#outbox.expectAck(id, { kind: 'message', channel, wire: frame.wire, bytes: frame.bytes, id });
    this.#send(channel, frame, id);
    if (ackTimeout !== undefined) {
      // Driven here, not by a subscriber of the returned Observable: it must end even if nobody listens.
      this.#outbox.expireWith(id, this.#scheduler.schedule(() => {
        this.#outbox.expire(id, new AckTimeoutError(channel, id, ackTimeout));
        this.#updateHold();
      }, ackTimeout));
    }
    return ack;
  }

  #request(channel: string, data: JsonValue, options: RequestOptions): Observable<JsonValue> {
    const ms = options.timeout ?? this.#options.requestTimeout;
    return new Observable<JsonValue>((subscriber) => {
      this.#assertOpen();
      const id = this.#nextId++;
      const wire = encodeText({ type: 'request', channel, id, data });
      const demand = this.#session$.subscribe({ error: (error: unknown) => subscriber.error(error) });
      // Added before the send, so it also runs when the send throws (a full buffer under the 'error' policy).
      subscriber.add(() => {
        if (this.#outbox.forget(id)) this.#link?.write(encodeText({ type: 'cancel', id }), true);
        demand.unsubscribe();
      });
      const item = { kind: 'request', channel, wire, bytes: wire.length, id } as const;
      this.#outbox.expectResponse(id, item, subscriber);
      this.#assertOpen();
      this.#checkSize(channel, item);
      this.#outbox.send(item, this.#link);
      this.#updateHold();
    }).pipe(
      timeout({ first: ms, scheduler: this.#scheduler, with: () => throwError(() => new RequestTimeoutError(channel, ms)) }),
    );
  }
}
