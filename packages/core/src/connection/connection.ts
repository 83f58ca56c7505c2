import {
  catchError,
  EMPTY,
  Observable,
  of,
  repeat,
  Subject,
  switchMap,
  takeUntil,
  type Subscription,
} from 'rxjs';
import { encodeText } from '../protocol/codec.js';
import { channelIdProblem } from '../protocol/fields.js';
import { ErrorCode, ProtocolError, RxmuxError } from '../protocol/errors.js';
import type { JsonValue, WelcomeFrame } from '../protocol/frames.js';
import type { Channel, Outgoing, RequestOptions } from '../channel/channel.js';
import { Multiplexer } from '../channel/multiplexer.js';
import { AckTimeoutError, ConnectionClosedError, InvalidArgumentError, RemoteError, RequestTimeoutError } from '../errors.js';
import { linger } from '../operators/linger.js';
import type { DebugAction, DebugEvent } from '../debug/events.js';
import { Tap } from '../debug/tap.js';
import type { BufferedMessage } from './buffer.js';
import { Deadlines } from './deadlines.js';
import type { EventStreamsHost } from './event-streams.js';
import { Inbound } from './inbound.js';
import { socketLifecycle } from './lifecycle.js';
import { largestMessage, payloadBytes, type Link } from './link.js';
import { resolveOptions, type ConnectionSettings, type ConnectOptions, type DroppedMessage } from './options.js';
import { Outbox, type Ack } from './outbox.js';
import { StatusMachine, type ConnectionStatus, type StatusTransition } from './status.js';

export type { ConnectOptions, DroppedMessage } from './options.js';

/** The key of the pool's ref counting. @internal */
export const RETAIN: unique symbol = Symbol('rxmux.retain');
/** The key of {@link Connection}'s factory: the pool creates connections, apps call {@link connect}. @internal */
export const OPEN: unique symbol = Symbol('rxmux.open');
/** The key of what `events()` (`@rxmux/core/events`) needs of a connection, so the event stream is not part of `Connection`. @internal */
export const STREAM_HOST: unique symbol = Symbol('rxmux.streamHost');

/**
 * A pooled connection: one WebSocket shared by every channel on the page.
 * Obtain it with {@link connect}; it opens the socket when the first channel
 * needs it and closes it when the last one is gone.
 *
 * The façade over three layers, each in its own module:
 *
 * ```
 *  Connection ── channel(id) ──▶ Multiplexer (routing, join/leave, positions) ──▶ Channel
 *      │  send / request ─────▶ Outbox (buffer, in flight, receipts) ──▶ Link (batching, pacing)
 *      ├─ status$ ◀── StatusMachine ◀── socketLifecycle (open, hello, heartbeat, reconnect) ──▶ WebSocket
 *      │  frames ◀── Inbound (to the multiplexer, the outbox, errors$)
 *      └─ [STREAM_HOST] ◀── events(conn, id) (`@rxmux/core/events`: one EventSource or long-poll loop)
 * ```
 */
export class Connection {
  /** The WebSocket URL. */
  readonly url: string;
  /** Current status, replayed to every new subscriber. See {@link ConnectionStatus} for the transition table. */
  readonly status$: Observable<ConnectionStatus>;
  /** Every status change with its cause (attempt number, retry delay, close code). Hot, not replayed. */
  readonly transitions$: Observable<StatusTransition>;
  /** Messages the connection had to drop (buffer overflow, reconnect failure, close, unconfirmed). Never silent. */
  readonly dropped$: Observable<DroppedMessage>;
  /** Connection-level problems that concern no channel: undecodable frames, error frames without a channel. */
  readonly errors$: Observable<RxmuxError>;

  readonly #settings: ConnectionSettings;
  readonly #status: StatusMachine;
  readonly #dropped = new Subject<DroppedMessage>();
  readonly #errors = new Subject<RxmuxError>();
  readonly #closing = new Subject<void>();
  readonly #outbox: Outbox;
  /** The timeouts of the requests in flight. */
  readonly #deadlines: Deadlines<number>;
  readonly #channels: Multiplexer;
  /** The socket layer, shared: every subscriber keeps the socket wanted. */
  readonly #session$: Observable<Link>;
  /** Holds the socket open while the outbox is busy (lingering after): derived from `outbox.busy$`. */
  readonly #hold: Subscription;
  readonly #release: (() => void) | undefined;
  /** The debug tap (`undefined` with `devtools: false`); every hook point checks `active` first. */
  readonly #tap: Tap | undefined;
  /** Whether the last welcome resumed the session (told to the tap with the transition to open). */
  #resumed: boolean | undefined;
  /** The welcomed link, while there is one. */
  #link: Link | undefined;
  #nextId = 1;
  #refs = 1;
  #closed = false;

  /** @internal The pool's way in: `release` takes the instance out of the pool once it is closed for good. */
  static [OPEN](url: string, options: ConnectOptions, release?: () => void): Connection {
    return new Connection(url, options, release);
  }

  /** Use {@link connect}. */
  private constructor(url: string, options: ConnectOptions, release: (() => void) | undefined) {
    this.url = url;
    this.#settings = resolveOptions(options);
    this.#release = release;
    const { scheduler } = this.#settings;
    this.#status = new StatusMachine(scheduler);
    this.status$ = this.#status.status$;
    this.transitions$ = this.#status.transitions$;
    this.dropped$ = this.#dropped.asObservable();
    this.errors$ = this.#errors.asObservable();
    this.#deadlines = new Deadlines(this.#settings.scheduler);
    this.#outbox = new Outbox(
      this.#settings.buffer,
      (item, reason) => {
        this.#dropped.next({ channel: item.channel, wire: item.wire, reason, ...(item.id === undefined ? {} : { id: item.id }) });
      },
      (item) => this.#link?.abandon(item),
    );
    const tap = (this.#tap =
      this.#settings.devtools === undefined
        ? undefined
        : new Tap(url, this.#settings.devtools.actions, {
            status: () => this.#status.value,
            channels: () => this.#channels.joinedChannels(),
            paused: () => this.#channels.pausedChannels(),
            act: (action) => this.#act(action),
          }));

    const inbound = new Inbound({ channels: () => this.#channels, outbox: this.#outbox, errors: this.#errors, maxFrameBytes: this.#settings.maxFrameBytes });
    this.#session$ = socketLifecycle(
      { ...this.#settings, url },
      {
        status: this.#status,
        joins: (fits) => this.#channels.helloFrames(fits),
        welcomed: (link, welcome) => this.#welcomed(link, welcome),
        frame: (frame, link) => inbound.route(frame, link),
        decodeError: (error, raw) => inbound.decodeError(error, raw),
        early: (frame) => {
          if (frame.type === 'error') this.#errors.next(new RemoteError(frame.code, frame.message, frame.channel));
          else inbound.unexpected(frame);
        },
        lost: (link) => {
          if (this.#link !== link) return;
          this.#link = undefined;
          this.#channels.linkLost(); // confirmed again after the next welcome
        },
        drained: (link) => {
          if (this.#link === link) this.#outbox.drain(link);
        },
        transferred: (link, item) => {
          if (this.#link === link) this.#outbox.transferred(item, link);
        },
        failed: (failure) => this.#outbox.failAll(failure, 'failed'),
        closed: () => this.#closed,
        wrote: tap === undefined ? undefined : (wire) => {
          if (tap.active) tap.out(wire);
        },
        received: tap === undefined ? undefined : (raw, frames) => {
          if (tap.active) tap.in(raw, frames);
        },
      },
    );
    const demand$ = this.#session$.pipe(takeUntil(this.#closing), linger(this.#settings.linger, scheduler));

    this.#channels = new Multiplexer({
      scheduler,
      linger: this.#settings.linger,
      demand$: this.#session$,
      closing$: this.#closing,
      closed: () => this.#closed,
      control: (wire) => this.#link?.write(wire, true),
      channelEvent: (channel, action, subscribers) => {
        if (tap?.active === true) tap.channel(channel, action, subscribers);
      },
    });
    if (tap !== undefined) {
      // Rare events: observed always, reported while a debugger listens.
      const when = <T>(report: (value: T) => void) => (value: T): void => {
        if (tap.active) report(value);
      };
      this.#status.transitions$.subscribe(when((t) => tap.transition(t, this.#resumed)));
      this.#channels.gaps$.subscribe(when((notice) => tap.gap(notice, 'ws')));
      this.#dropped.subscribe(when((dropped) => tap.drop(dropped)));
      this.#errors.subscribe(when((error) => tap.error(error)));
      tap.register();
    }

    // While something waits to be sent or confirmed, the socket is wanted; after a failure with work
    // still queued (an ack's error handler sent again), the demand starts over.
    this.#hold = this.#outbox.busy$
      .pipe(
        switchMap((busy) =>
          busy ? demand$.pipe(catchError(() => EMPTY), repeat({ delay: () => (this.#outbox.busy && !this.#closed ? of(0) : EMPTY) })) : EMPTY,
        ),
        takeUntil(this.#closing),
      )
      .subscribe();
  }

  /**
   * The channel `id`, as a shared hot Observable with `send`, `sendBinary`
   * and `request`. The same id returns the same {@link Channel} while it is in
   * use; in any case every object for an id shares one stream and one join.
   * Throws `InvalidArgumentError` for an invalid id and `ConnectionClosedError` after `close()`.
   */
  channel<In = JsonValue, Out = In>(id: string): Channel<In, Out> {
    this.#assertOpen();
    const problem = channelIdProblem(id);
    if (problem !== undefined) throw new InvalidArgumentError(problem);
    return this.#channels.channel<In, Out>(id, {
      nextId: () => this.#nextId++,
      send: (frame) => this.#send(id, frame),
      sendWithAck: (frame, messageId, ackTimeout) => this.#sendWithAck(id, frame, messageId, ackTimeout),
      request: (data, options) => this.#request(id, data, options),
    });
  }

  /**
   * @internal What `events()` (`@rxmux/core/events`) needs: the URL, the
   * event stream options, the tap, whether there are credentials (then the
   * streams authenticate with tickets), and when to end. Throws
   * `ConnectionClosedError` after `close()`.
   */
  [STREAM_HOST](): Omit<EventStreamsHost, 'ticket'> & { readonly token: boolean } {
    this.#assertOpen();
    return { url: this.url, options: this.#settings.eventStream, tap: this.#tap, closing$: this.#closing, token: this.#settings.token !== undefined };
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
    this.#deadlines.clear();
    this.#closing.next();
    this.#hold.unsubscribe();
    this.#status.transition('closed');
    this.#channels.close();
    this.#tap?.dispose();
    for (const subject of [this.#closing, this.#dropped, this.#errors]) subject.complete();
    this.#status.complete();
  }

  /** @internal Pool ref counting. */
  [RETAIN](): this {
    this.#refs++;
    return this;
  }

  /**
   * Reports this connection's debug events to `listener` (frames in and
   * out, status, channels, requests, acks, gaps, drops, errors, SSE): the
   * one call that turns the tap on without the DevTools extension. Returns
   * a function that stops it. Throws `InvalidArgumentError` when the
   * connection was created with `devtools: false`. The first listener of a
   * page loads the tap's recorder (a dynamic import): until it is there the
   * events wait, in order and with the time they happened, then arrive
   * together (a listener stopped meanwhile still hears what happened while
   * it listened); `preloadDebugTap()` from `@rxmux/core/debug` loads it up
   * front. If the code cannot load, each waiting listener gets one
   * `RXMUX_DEVTOOLS_UNAVAILABLE` error event and this connection reports
   * nothing more (a later connection tries the load again).
   *
   * @example
   * const stop = conn.debug((event) => console.debug('[rxmux]', event));
   */
  debug(listener: (event: DebugEvent) => void): () => void {
    if (this.#tap === undefined) throw new InvalidArgumentError('the debug tap is off for this connection (devtools: false)');
    return this.#tap.listen(listener);
  }

  /** What a debugger asks for (when the connection allows actions). */
  #act(action: DebugAction): void {
    switch (action.type) {
      case 'drop':
        this.#link?.drop('dropped by DevTools');
        return;
      case 'pause':
        this.#channels.pause(action.channel);
        return;
      case 'resume':
        this.#channels.resume(action.channel);
        return;
      case 'send':
        if (this.#closed || channelIdProblem(action.channel) !== undefined) return;
        try {
          this.channel(action.channel).send(action.data);
        } catch (error) {
          if (error instanceof RxmuxError) this.#tap?.error(error);
        }
        return;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConnectionClosedError('connection used after close()');
  }

  // ---- welcome -------------------------------------------------------------------

  /**
   * A welcome arrived: re-join every active channel (asking for what it
   * missed) that did not go with the hello, re-send what the server did not
   * take, then flush the offline buffer, all in order and in one write as
   * far as the rate allows.
   */
  #welcomed(link: Link, welcome: WelcomeFrame): void {
    this.#link = link;
    this.#resumed = welcome.resumed;
    for (const wire of this.#channels.rejoinFrames()) link.write(wire, true);
    this.#outbox.welcomed(link, welcome.resumed === true, welcome.received);
    link.flush();
    // Announced last: code reacting to 'open' (joining channels, sending) finds everything re-joined and flushed.
    this.#status.transition('open');
  }

  // ---- outbound -----------------------------------------------------------------

  /**
   * Refuses, at once, a frame the server would refuse with close 1009: sent
   * anyway it would cost the connection, and an acked one would be re-sent
   * after every reconnect. A message may be larger than one frame where
   * chunked transfers carry it: up to the welcomed server's
   * `maxMessageBytes`, or offline, up to what the client itself accepts
   * (a server that turns out to take less drops it as `'too-big'`).
   */
  #checkSize(item: BufferedMessage): void {
    const link = this.#link;
    if (link !== undefined) {
      if (!link.carries(item)) throw new ProtocolError(ErrorCode.FrameTooBig, `${item.kind} on "${item.channel}" is larger than the server takes`);
      return;
    }
    const { transfers, maxFrameBytes } = this.#settings;
    const max = largestMessage(item, maxFrameBytes, transfers === undefined ? undefined : Math.max(transfers.maxMessageBytes, maxFrameBytes));
    const bytes = payloadBytes(item, max);
    if (bytes > max) {
      throw new ProtocolError(ErrorCode.FrameTooBig, `message of ${bytes} bytes on "${item.channel}" exceeds ${max === this.#settings.maxFrameBytes ? 'maxFrameBytes' : 'transfers.maxMessageBytes'} ${max}`);
    }
  }

  /** Hands a checked frame to the outbox: written now, or buffered. */
  #enqueue(item: BufferedMessage): void {
    this.#assertOpen();
    this.#checkSize(item);
    this.#outbox.send(item, this.#link);
  }

  #send(channel: string, frame: Outgoing): void {
    this.#enqueue({ kind: 'message', channel, wire: frame.wire, bytes: frame.bytes });
  }

  #sendWithAck(channel: string, frame: Outgoing, id: number, ackTimeout: number | undefined): Observable<Ack> {
    this.#assertOpen();
    this.#checkSize({ kind: 'message', channel, wire: frame.wire, bytes: frame.bytes });
    if (ackTimeout !== undefined && !(ackTimeout >= 0)) throw new InvalidArgumentError(`ack timeout must be a non-negative number, got ${ackTimeout}`);
    const item: BufferedMessage = { kind: 'message', channel, wire: frame.wire, bytes: frame.bytes, id };
    const ack = this.#outbox.expectAck(id, item);
    this.#enqueue(item);
    if (ackTimeout !== undefined) {
      // Driven here, not by a subscriber of the returned Observable: it must end even if nobody listens.
      this.#outbox.expireWith(
        id,
        this.#settings.scheduler.schedule(() => {
          if (this.#tap?.active === true) this.#tap.ackTimedOut(id);
          this.#outbox.expire(id, new AckTimeoutError(channel, id, ackTimeout));
        }, ackTimeout),
      );
    }
    return ack;
  }

  #request(channel: string, data: JsonValue, options: RequestOptions): Observable<JsonValue> {
    const ms = options.timeout ?? this.#settings.requestTimeout;
    if (!(ms >= 0)) throw new InvalidArgumentError(`request timeout must be a non-negative number, got ${ms}`);
    // Each subscription is its own request with its own id; its timeout is a deadline among the
    // connection's (one scheduler action for all of them), not a timer of its own.
    return new Observable<JsonValue>((subscriber) => {
      this.#assertOpen();
      const id = this.#nextId++;
      const wire = encodeText({ type: 'request', channel, id, data });
      const demand = this.#session$.subscribe({ error: (error: unknown) => subscriber.error(error) });
      this.#deadlines.add(id, ms, () => {
        if (this.#tap?.active === true) this.#tap.timedOut(id);
        subscriber.error(new RequestTimeoutError(channel, ms));
      });
      // Added before the send, so it also runs when the send throws (a full buffer under the 'error' policy).
      subscriber.add(() => {
        this.#deadlines.delete(id);
        if (this.#outbox.forget(id)) this.#link?.write(encodeText({ type: 'cancel', id }), true);
        demand.unsubscribe();
      });
      const item: BufferedMessage = { kind: 'request', channel, wire, bytes: wire.length, id };
      this.#outbox.expectResponse(id, item, subscriber);
      this.#enqueue(item);
    });
  }

}
