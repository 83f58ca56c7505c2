import { asapScheduler, Subject, type SchedulerLike } from 'rxjs';
import { decode, encode, encodeBatch, encodeText } from '../protocol/codec.js';
import { ErrorCode, type ProtocolError } from '../protocol/errors.js';
import { pieceBytes, TransferReceiver, TransferSender, transferLimitsOf, transferSource, type Reception } from '../protocol/transfer.js';
import {
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  subprotocolVersion,
  TRANSFER_SUBPROTOCOL,
  type TransferLimits,
  type AckFrame,
  type ClientFrame,
  type ErrorFrame,
  type Frame,
  type GapFrame,
  type HelloFrame,
  type JsonSafe,
  type JsonValue,
  type MessageFrame,
  type PublicationFrame,
  type ReceiptFrame,
  type RefreshedFrame,
  type RequestErrorFrame,
  type RequestFrame,
  type ResponseFrame,
  type ServerFrame,
  type SubscribedFrame,
  type SubscribeFrame,
  type UnsubscribedFrame,
  type WelcomeFrame,
} from '../protocol/frames.js';
import { InvalidArgumentError } from '../errors.js';
import { describeFrame } from './describe.js';
import { FakeWebSocket } from './fake-socket.js';
import { waitFor, type WaitOptions } from './wait.js';

/**
 * The frame of type `K`, as `nextFrame(type)` and `takeFrame(type)` return it.
 *
 * @example
 * const sub: FrameOf<'subscribe'> = await c.nextFrame('subscribe'); // { type: 'subscribe', channel, since?, epoch? }
 */
export type FrameOf<K extends Frame['type']> = Extract<Frame, { readonly type: K }>;

/**
 * Options of {@link ScriptedConnection.nextFrame} and {@link ScriptedConnection.takeFrame}.
 *
 * @example
 * await c.nextFrame('message', { channel: 'chat', timeout: 500 });
 */
export interface FrameWaitOptions extends WaitOptions {
  /** Only a frame on this channel (`subscribe`, `unsubscribe`, `message`, `request`; other frames have none). */
  readonly channel?: string;
}

/**
 * What a welcome carries besides its version: every field of the `welcome`
 * frame (PROTOCOL.md 5.3), each optional.
 *
 * Defaults: `session` is the one the hello named when this server issued it
 * (a resume), else a new one (`s1`, `s2`, …); `resumed` is whether that
 * session was resumed, sent when the hello named a session (as the reference
 * server does); `heartbeat` 30 000; `received` is the session's count of
 * `message` envelopes when the server was created with `receipts: true`,
 * absent otherwise (a server without receipts); no `limits`, `expiresIn` or
 * `resumeToken`.
 *
 * @example
 * c.welcome({ expiresIn: 60_000 });                  // credentials that expire: the client refreshes them
 * c.welcome({ session: 'fresh', resumed: false });   // the session named in the hello is gone
 */
export type WelcomeOptions = Partial<Omit<WelcomeFrame, 'type' | 'version'>>;

/**
 * Options of {@link ScriptedConnection.publish} and {@link ScriptedConnection.publishBinary}.
 *
 * @example
 * c.publish('score', { home: 1 }, { seq: 42 });
 */
export interface PublishOptions {
  /** The publication's position in the channel's history (absent: not numbered, like the server's `ctx.send`). */
  readonly seq?: number;
}

/**
 * A channel's position, as `subscribed` announces it: the history epoch and its newest sequence number.
 *
 * @example
 * c.subscribed('score', { epoch: 'e1', seq: 41 }); // live publications follow from 42
 */
export interface ChannelPosition {
  readonly epoch?: string;
  readonly seq?: number;
}

/**
 * Options of {@link ScriptedConnection.gap} (PROTOCOL.md 5.16).
 *
 * @example
 * c.gap('score', { epoch: 'e2', seq: 0, reason: 'epoch' }); // the server restarted: a new history
 */
export interface GapOptions {
  /** The channel's current history epoch. */
  readonly epoch: string;
  /** The channel's newest sequence number: live publications continue after it. */
  readonly seq: number;
  /** `'history'` (default), `'epoch'` or `'too-big'`. */
  readonly reason?: string;
  /** The last sequence number the client had seen. Default: the `since` of its last subscribe to the channel on this socket, if any. */
  readonly since?: number;
}

/**
 * How a socket ended.
 *
 * @example
 * conn.close();
 * await c.waitForClose(); // { code: 1000, reason: 'client closed', by: 'client' }
 */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  /** `'client'`: the client closed its socket; `'server'`: the test dropped it ({@link ScriptedConnection.drop}). */
  readonly by: 'client' | 'server';
}

/** What the fake server remembers of one session across its sockets (as the reference server does). @internal */
export class Session {
  /** `message` envelopes taken in this session, over all its sockets: what `received` and receipts count. */
  received = 0;
  /** Ids of the messages and requests the session received, with their kind. */
  readonly ids = new Map<number, 'message' | 'request'>();

  constructor(readonly id: string) {}
}

/** What a connection needs from its server. @internal */
export interface ServerContext {
  /** Default wait, in ms. */
  readonly timeout: number;
  /** Chunked transfers (v2): what the server takes, and whether it credits what it receives by itself; `undefined`: v1 only. */
  readonly transfers: (TransferLimits & { readonly autoCredit: boolean }) | undefined;
  /** Whether pings are answered with pongs. */
  readonly pong: boolean;
  /** Whether welcomes carry `received` by default. */
  readonly receipts: boolean;
  /** Scheduler of the server's own answers (pongs); asap by default. */
  readonly scheduler: SchedulerLike | undefined;
  /** The position of `connection` among the server's connections, from 1 (for messages). */
  numberOf(connection: ScriptedConnection): number;
  /** The session `id`, when this server issued it. */
  session(id: string): Session | undefined;
  /** A new session (a fresh id unless one is given). */
  newSession(id?: string): Session;
  /** Every frame any connection received, in order (the server's `frames$`). */
  received(frame: Frame): void;
}

const DECODE_EVERYTHING = { maxFrameBytes: Number.POSITIVE_INFINITY, maxBatch: Number.POSITIVE_INFINITY };

/**
 * The server's end of one client socket, driven by the test: it accepts and
 * welcomes the socket, answers what the client asks, publishes, refuses,
 * drops. Every frame goes through the real codec in both directions, so a
 * script cannot say what the protocol cannot. You get one from
 * `await server.nextConnection()` (or `server.last`, `server.connection$`).
 *
 * **When things become visible.** What the test sends reaches the client
 * synchronously: when `publish()` returns, the channel has emitted; when
 * `welcome()` returns, the status is `open`. What the client sends is
 * recorded in {@link frames} once the client has written it:
 * - its `hello` with the subscribes of the channels active then (the hello
 *   batch, PROTOCOL.md 6.1): at once, when the socket opens (`accept()`,
 *   `welcome()`);
 * - what a welcome releases (the subscribes that did not fit the hello
 *   batch, the re-sent frames and the offline buffer, in one batch): before
 *   `welcome()` returns;
 * - anything the app does while the socket is open (subscribe, send,
 *   request, cancel, unsubscribe after the linger): coalesced with whatever
 *   else the same turn produces and written on RxJS's `asapScheduler`. With
 *   real timers that is a microtask after the current synchronous code
 *   (`await c.nextFrame()` waits for it; one `await` of a resolved promise is
 *   enough); under `TestScheduler.run` it is the same virtual time, after the
 *   actions already due at that time (check it from a later time, or watch
 *   `server.frames$`, where it shows at that time).
 *
 * A welcome with `limits` makes the client pace its writes to the announced
 * token bucket: what exceeds the bucket is written later, as tokens come.
 *
 * Helpers that name a client frame by its id ({@link answer}, {@link ack},
 * {@link refuse} of a message) throw when the session never received that
 * id: the client would ignore the answer, and the test would wait for
 * nothing. {@link send} and {@link sendRaw} send anything, unchecked.
 *
 * @example
 * const c = await server.nextConnection();
 * c.welcome();
 * const sub = await c.nextSubscribe('scores');
 * c.subscribed(sub, { epoch: 'e1', seq: 0 });
 * c.publish('scores', { home: 1 }, { seq: 1 });
 * const req = await c.nextRequest('scores');
 * c.answer(req, { total: 1 });
 */
export class ScriptedConnection {
  /** The fake socket under this connection (to send malformed bytes, read `readyState`, count listeners). */
  readonly socket: FakeWebSocket;
  readonly #frames: Frame[] = [];
  readonly #errors: ProtocolError[] = [];
  readonly #taken = new Set<Frame>();
  /** Emits after every frame recorded; completes when the socket closed. */
  readonly #changes = new Subject<void>();
  readonly #context: ServerContext;
  #hello: HelloFrame | undefined;
  #welcome: WelcomeFrame | undefined;
  #session: Session | undefined;
  #closed: CloseInfo | undefined;
  #hungUp = false;
  #constructing = true;
  /** Chunked transfers, once a v2 hello said what the client takes. */
  #sender: TransferSender<string> | undefined;
  #receiver: TransferReceiver | undefined;
  /** Publications waiting behind their channel's unfinished transfer, by channel. */
  readonly #held = new Map<string, PublicationFrame[]>();

  /** @internal The server creates connections. */
  constructor(socket: FakeWebSocket, context: ServerContext) {
    this.socket = socket;
    this.#context = context;
  }

  // ---- what the client sent ----

  /**
   * Every frame the client sent on this socket, decoded by the codec
   * (batches flattened), in order, as soon as the client has written it
   * (see "When things become visible" above).
   */
  get frames(): readonly Frame[] {
    return this.#frames;
  }

  /** Whatever the client wrote that failed to decode (a client bug: expect it to stay empty). */
  get errors(): readonly ProtocolError[] {
    return this.#errors;
  }

  /** {@link frames} as {@link describeFrame} words them: `['hello', 'sub:a', 'msg:a:1']`. */
  summary(): string[] {
    return this.#frames.map(describeFrame);
  }

  /** The URL the client opened. */
  get url(): string {
    return this.socket.url;
  }

  /** The welcome sent on this socket, once it was. */
  get welcomed(): WelcomeFrame | undefined {
    return this.#welcome;
  }

  /** The session id of the welcome, once welcomed. */
  get session(): string | undefined {
    return this.#session?.id;
  }

  /** How the socket ended, once it did. */
  get closed(): CloseInfo | undefined {
    return this.#closed;
  }

  /** Whether the test hung up on this socket ({@link hangUp}). */
  get hungUp(): boolean {
    return this.#hungUp;
  }

  /**
   * Waits for the hello (the first frame of every socket) and returns it.
   * Accepts the socket first when it is still connecting: the client says
   * hello once its socket is open.
   */
  hello(options?: WaitOptions): Promise<HelloFrame> {
    if (this.socket.readyState === FakeWebSocket.CONNECTING) this.accept();
    const hello = this.#hello;
    if (hello !== undefined) {
      this.#taken.add(hello);
      return Promise.resolve(hello);
    }
    return this.nextFrame('hello', options);
  }

  /**
   * Waits for the oldest frame not yet taken (of `type`, on `channel` when
   * given), takes it and returns it decoded. Each frame is taken once: two
   * waits for a `message` get two messages. Frames of other types stay for
   * later waits. Rejects after the timeout, or at once when the socket
   * closes, with a message listing what did arrive.
   *
   * @example
   * const msg = await c.nextFrame('message', { channel: 'chat' });
   * expect(msg.data).toEqual({ text: 'hi' });
   */
  nextFrame(options?: FrameWaitOptions): Promise<Frame>;
  nextFrame<K extends ClientFrame['type']>(type: K, options?: FrameWaitOptions): Promise<FrameOf<K>>;
  nextFrame(typeOrOptions?: ClientFrame['type'] | FrameWaitOptions, maybeOptions?: FrameWaitOptions): Promise<Frame> {
    const type = typeof typeOrOptions === 'string' ? typeOrOptions : undefined;
    const options = typeof typeOrOptions === 'string' ? maybeOptions : typeOrOptions;
    const what = describeWanted(type, options?.channel);
    return waitFor(
      this.#changes,
      () => this.#take(type, options?.channel),
      options?.timeout ?? this.#context.timeout,
      (why) => `no ${what} arrived ${why} on ${this.#whereabouts()}${this.#hint()}`,
    );
  }

  /** Waits for the client's next `subscribe` (to `channel`, when given). */
  nextSubscribe(channel?: string, options?: WaitOptions): Promise<SubscribeFrame> {
    return this.nextFrame('subscribe', { ...options, ...(channel === undefined ? {} : { channel }) });
  }

  /** Waits for the client's next `message` (on `channel`, when given). */
  nextMessage(channel?: string, options?: WaitOptions): Promise<MessageFrame> {
    return this.nextFrame('message', { ...options, ...(channel === undefined ? {} : { channel }) });
  }

  /** Waits for the client's next `request` (on `channel`, when given). */
  nextRequest(channel?: string, options?: WaitOptions): Promise<RequestFrame> {
    return this.nextFrame('request', { ...options, ...(channel === undefined ? {} : { channel }) });
  }

  /**
   * Takes the oldest frame of `type` not yet taken, now, without waiting
   * (for marble tests, where nothing can be awaited). Throws when there is
   * none yet, listing what arrived.
   *
   * @example
   * later(() => server.last.answer(server.last.takeFrame('request'), { total: 3 }), 10);
   */
  takeFrame<K extends ClientFrame['type']>(type: K, options?: Pick<FrameWaitOptions, 'channel'>): FrameOf<K> {
    const found = this.#take(type, options?.channel);
    if (found === undefined) throw new InvalidArgumentError(`no ${describeWanted(type, options?.channel)} has arrived on ${this.#whereabouts()}${this.#hint()}`);
    return found as FrameOf<K>;
  }

  /** Waits until the socket has closed (the client closed it, or the test dropped it). */
  waitForClose(options?: WaitOptions): Promise<CloseInfo> {
    return waitFor(
      this.#changes,
      () => this.#closed,
      options?.timeout ?? this.#context.timeout,
      (why) => `the socket did not close ${why}: ${this.#whereabouts()}`,
    );
  }

  // ---- the server's side of the handshake ----

  /**
   * Completes the WebSocket handshake: the server selects `protocol`
   * (default `rxmux.v1`, or `rxmux.v2` when the server was created with
   * `transfers` and the client offers it; anything the client did not offer
   * makes it close with 4406) and the client's socket opens. The client
   * sends its hello at once.
   */
  accept(protocol: string = this.#context.transfers !== undefined && this.socket.protocols.includes(TRANSFER_SUBPROTOCOL) ? TRANSFER_SUBPROTOCOL : SUBPROTOCOL): void {
    if (this.#constructing) throw new InvalidArgumentError('accept() while the client is still constructing its socket: it has no listeners yet; schedule it (a later action, or autoWelcome)');
    if (this.socket.readyState !== FakeWebSocket.CONNECTING) throw new InvalidArgumentError(`accept() on a socket that is not connecting: ${this.#whereabouts()}`);
    this.socket.accept(protocol);
  }

  /**
   * Accepts the socket if needed and sends the welcome: the client's status
   * becomes `open`, and it re-joins its channels and flushes what it
   * buffered. Returns the welcome as sent. Defaults: see {@link WelcomeOptions}.
   *
   * @example
   * c.welcome({ limits: { maxFrameBytes: 65536, maxBatch: 64, rate: 100, burst: 200 }, expiresIn: 60_000 });
   */
  welcome(options: WelcomeOptions = {}): WelcomeFrame {
    if (this.socket.readyState === FakeWebSocket.CONNECTING) this.accept();
    if (this.#welcome !== undefined) throw new InvalidArgumentError(`welcome() twice: ${this.#whereabouts()}`);
    const hello = this.#hello;
    if (hello === undefined) throw new InvalidArgumentError(`welcome() before the client said hello: ${this.#whereabouts()}`);
    const named = hello.session;
    const known = named === undefined ? undefined : this.#context.session(named);
    const session = options.session === undefined ? (known ?? this.#context.newSession()) : (this.#context.session(options.session) ?? this.#context.newSession(options.session));
    const resumed = options.resumed ?? (named === undefined ? undefined : known !== undefined && session === known);
    const received = options.received ?? (this.#context.receipts ? session.received : undefined);
    const { resumeToken, limits, expiresIn } = options;
    const version = subprotocolVersion(this.socket.protocol) ?? PROTOCOL_VERSION;
    const transfers = version === PROTOCOL_VERSION ? undefined : this.#context.transfers;
    const announced = transfers === undefined ? limits : { ...(limits ?? { maxFrameBytes: 1024 * 1024, maxBatch: 1024, rate: 1e9, burst: 1e9 }), ...transferKeys(transfers) };
    const frame: WelcomeFrame = {
      type: 'welcome',
      version,
      session: session.id,
      heartbeat: options.heartbeat ?? 30_000,
      ...(resumeToken === undefined ? {} : { resumeToken }),
      ...(resumed === undefined ? {} : { resumed }),
      ...(received === undefined ? {} : { received }),
      ...(announced === undefined ? {} : { limits: announced }),
      ...(expiresIn === undefined ? {} : { expiresIn }),
    };
    const wire = encodeText(frame);
    this.#welcome = frame;
    this.#session = session;
    const client = transferLimitsOf(hello.limits);
    if (transfers !== undefined && client !== undefined) {
      this.#sender = new TransferSender(pieceBytes(client, transfers.chunkBytes), client.window, client.maxTransfers);
      this.#receiver = new TransferReceiver('message', { ...transferKeys(transfers), timeoutMs: Number.POSITIVE_INFINITY });
    }
    this.#deliver(wire, 'welcome');
    return frame;
  }

  // ---- answers ----

  /** Confirms a subscribe, with the channel's position when given (PROTOCOL.md 5.6). */
  subscribed(subscription: string | SubscribeFrame, position: ChannelPosition = {}): SubscribedFrame {
    const channel = typeof subscription === 'string' ? subscription : subscription.channel;
    return this.#script('subscribed', { type: 'subscribed', channel, ...definedOnly(position) });
  }

  /**
   * Publishes a JSON value on a channel (PROTOCOL.md 5.1); the channel has
   * emitted it when this returns. On a v2 connection (a server created with
   * `transfers`) one larger than a piece goes in pieces as the client's
   * window allows (PROTOCOL.md 15), as the reference server sends it: the
   * channel emits it once the client credited enough.
   */
  publish<T = JsonValue>(channel: string, data: JsonSafe<T>, options: PublishOptions = {}): PublicationFrame {
    return this.#publication('publish', { type: 'publication', channel, data: data as JsonValue, ...definedOnly(options) });
  }

  /** Publishes bytes on a channel (the channel's `binary$` emits them): one binary frame, or pieces as {@link publish} says. */
  publishBinary(channel: string, data: ArrayBuffer | ArrayBufferView, options: PublishOptions = {}): PublicationFrame {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return this.#publication('publishBinary', { type: 'publication', channel, data: bytes, ...definedOnly(options) });
  }

  /**
   * Credits the client's transfer data received so far and not credited
   * (PROTOCOL.md 15.2), on a server created with `transfers: { autoCredit:
   * false }`, which then credits nothing by itself: the test decides when the
   * client may send more. Returns the bytes credited.
   *
   * @example
   * const server = new FakeServer({ transfers: { autoCredit: false } });
   * // … the client sends a large binary: one window's worth arrives, then nothing
   * c.credit();                                   // the next window's worth
   */
  credit(): number {
    this.#requireSession('credit');
    const owed = this.#receiver?.takeCredit() ?? 0;
    if (owed > 0) this.#deliver(encodeText({ type: 'credit', bytes: owed }), 'credit');
    return owed;
  }

  /** Answers a request (the frame, or its id) with `data`. Throws when the session received no request with that id. */
  answer<T = JsonValue>(request: RequestFrame | number, data: JsonSafe<T>): ResponseFrame {
    const id = this.#known(request, 'request', 'answer');
    return this.#script('answer', { type: 'response', id, data: data as JsonValue });
  }

  /** Fails a request (the frame, or its id) with `code` (default `RXMUX_ERR_REMOTE`): the request's Observable errors with `RemoteError`. */
  answerError(request: RequestFrame | number, code: string = ErrorCode.Remote, message = 'request failed'): RequestErrorFrame {
    const id = this.#known(request, 'request', 'answerError');
    return this.#script('answerError', { type: 'request-error', id, code, message });
  }

  /** Acknowledges a message sent with `{ ack: true }` (the frame, or its id). Throws when the session received no such message. */
  ack(message: MessageFrame | number): AckFrame {
    const id = this.#known(message, 'message', 'ack');
    return this.#script('ack', { type: 'ack', id });
  }

  /**
   * Refuses what the client asked for, as the reference server does
   * (PROTOCOL.md 8.1, "What ends what"):
   * - a subscription (a channel id or its `subscribe` frame):
   *   `unsubscribed {channel, code, reason}`, which ends the channel's
   *   subscribers with `RemoteError`;
   * - a message: `error {code, message, channel, id?}`, on the channel's
   *   `errors$` (its subscribers go on), or on the message's ack when it
   *   asked for one;
   * - a request: `request-error`, as {@link answerError}.
   *
   * @example
   * c.refuse(await c.nextSubscribe('admin'));                              // RXMUX_ERR_FORBIDDEN
   * c.refuse(await c.nextMessage('board'), 'RXMUX_ERR_NO_HANDLER', 'no handler for board');
   */
  refuse(target: string | SubscribeFrame | MessageFrame | RequestFrame, code: string = ErrorCode.Forbidden, reason = 'refused'): UnsubscribedFrame | ErrorFrame | RequestErrorFrame {
    if (typeof target === 'string' || target.type === 'subscribe') {
      return this.#script('refuse', { type: 'unsubscribed', channel: typeof target === 'string' ? target : target.channel, code, reason });
    }
    if (target.type === 'request') return this.answerError(target, code, reason);
    const id = target.id === undefined ? undefined : this.#known(target, 'message', 'refuse');
    return this.#script('refuse', { type: 'error', code, message: reason, channel: target.channel, ...(id === undefined ? {} : { id }) });
  }

  /** Tells the client it missed publications it cannot get back (PROTOCOL.md 5.16): `channel.gaps$` emits a notice. */
  gap(channel: string, options: GapOptions): GapFrame {
    const since = options.since ?? this.#frames.filter((f): f is SubscribeFrame => f.type === 'subscribe' && f.channel === channel).at(-1)?.since;
    return this.#script('gap', { type: 'gap', channel, epoch: options.epoch, seq: options.seq, reason: options.reason ?? 'history', ...(since === undefined ? {} : { since }) });
  }

  /** A cumulative receipt (PROTOCOL.md 5.17): by default for every `message` the session received so far. */
  receipt(received?: number): ReceiptFrame {
    const count = received ?? this.#requireSession('receipt').received;
    return this.#script('receipt', { type: 'receipt', received: count });
  }

  /** Accepts a token refresh (PROTOCOL.md 5.19), with the new credentials' lifetime when given. */
  refreshed(expiresIn?: number): RefreshedFrame {
    return this.#script('refreshed', { type: 'refreshed', ...(expiresIn === undefined ? {} : { expiresIn }) });
  }

  // ---- raw sends ----

  /** Sends any server frame, encoded by the codec, unchecked (to test how the client takes frames the helpers would refuse). */
  send(frame: ServerFrame): void {
    this.#deliver(encode(frame), frame.type);
  }

  /** Sends several text frames as one batch, as the reference server writes what one turn produced (PROTOCOL.md 3). */
  sendBatch(frames: readonly ServerFrame[]): void {
    this.#deliver(encodeBatch(frames.map(encodeText)), 'batch');
  }

  /** Delivers a raw WebSocket message as it is: malformed JSON, bad bytes, a frame the codec would refuse to encode. */
  sendRaw(data: string | Uint8Array): void {
    this.#deliver(data, 'raw message');
  }

  // ---- the end ----

  /**
   * Closes the socket as the server (or the network) would: 1006 (default)
   * is a lost link without a close frame (an `error` event, then `close`);
   * any other code is a close frame from the server, e.g. 1001 `going away`
   * (retried) or 4401 (fatal: the client fails without retrying). On a
   * socket not accepted yet it is a failed connection attempt (a refused
   * upgrade, an unreachable host).
   */
  drop(code = 1006, reason = ''): void {
    if (this.#constructing) throw new InvalidArgumentError('drop() while the client is still constructing its socket: schedule it (a later action)');
    if (this.#closed !== undefined) throw new InvalidArgumentError(`drop() on a socket that is closed already: ${this.#whereabouts()}`);
    this.#closed = { code, reason, by: 'server' };
    this.socket.drop(code, reason);
    this.#changes.complete();
  }

  /**
   * The server goes silent without closing (a half-open link): no close
   * event, no more pongs, and any further script call but {@link drop}
   * throws. The client's heartbeat (when enabled) closes the socket with
   * 4000 after its timeout. What it sends meanwhile is still recorded in
   * {@link frames}, but not taken: it counts for no receipt and no id of the
   * session, so a resumed session gets it again, as from a real half-open link.
   */
  hangUp(): void {
    this.#requireOpen('hangUp');
    this.#hungUp = true;
  }

  // ---- called by the server's socket ----

  /** @internal The server finished announcing this connection: it may be scripted now. */
  ready(): void {
    this.#constructing = false;
  }

  /** @internal The client wrote `wire`. */
  record(wire: string | Uint8Array): void {
    const { frames, errors } = decode(wire, DECODE_EVERYTHING);
    this.#errors.push(...errors);
    for (const frame of frames) {
      this.#frames.push(frame);
      this.#count(frame);
      this.#context.received(frame);
      const whole = this.#transferFrame(frame);
      if (whole !== undefined) {
        // A chunked message, whole: recorded (and counted) as if it had come in one frame, after its pieces.
        this.#frames.push(whole);
        this.#count(whole);
        this.#context.received(whole);
      }
    }
    this.#changes.next();
  }

  /** @internal The client closed its socket. */
  clientClosed(code: number, reason: string): void {
    if (this.#closed !== undefined) return;
    this.#closed = { code, reason, by: 'client' };
    this.#changes.complete();
  }

  // ---- internals ----

  /** A transfer frame from the client: pieces put together (credited at once unless `autoCredit` is off), credits and aborts for ours. */
  #transferFrame(frame: Frame): Frame | undefined {
    if (this.#hungUp || this.#receiver === undefined || this.#sender === undefined) return undefined;
    if (frame.type === 'credit') {
      this.#sender.credit(frame.bytes);
      this.#later(() => this.#pump());
      return undefined;
    }
    if (frame.type === 'abort') {
      const dropped = this.#sender.drop(frame.channel);
      if (dropped === undefined) return undefined;
      this.#later(() => {
        if (dropped.abandon !== undefined) this.socket.receive(dropped.abandon);
        this.#release(frame.channel);
        this.#pump();
      });
      return undefined;
    }
    if (frame.type !== 'transfer' && frame.type !== 'chunk') return undefined;
    const reception: Reception = this.#receiver.take(frame, 0);
    if (this.#context.transfers?.autoCredit !== false) this.#later(() => this.credit());
    if (reception === undefined) return undefined;
    if ('whole' in reception) return reception.whole;
    if ('abort' in reception) this.#later(() => this.socket.receive(encodeText(reception.abort)));
    return undefined;
  }

  /**
   * Sends a publication: one frame, or on a v2 connection pieces as the
   * client's window allows. A channel's later publications wait behind its
   * unfinished transfer, as the reference server keeps them (PROTOCOL.md 15.6).
   */
  #publication(what: string, frame: PublicationFrame): PublicationFrame {
    this.#requireSession(what);
    const held = this.#held.get(frame.channel);
    if (held !== undefined) held.push(frame);
    else this.#publish(frame, what);
    this.#pump();
    return frame;
  }

  /** Writes `frame`, or starts it as a transfer (its channel's later publications held from now on). */
  #publish(frame: PublicationFrame, what: string): void {
    const sender = this.#sender;
    const text = !(frame.data instanceof Uint8Array);
    const payload = frame.data instanceof Uint8Array ? frame.data : new TextEncoder().encode(encodeText(frame));
    if (sender === undefined || payload.byteLength <= sender.piece) {
      this.#deliver(encode(frame), what);
      return;
    }
    const seq = frame.seq === undefined ? {} : { seq: frame.seq };
    sender.start(transferSource({ kind: 'publication', channel: frame.channel, ...seq, ...(text ? { text: true as const } : {}) }, payload), frame.channel);
    this.#held.set(frame.channel, []);
  }

  /** Sends the pieces the client's window allows; a finished transfer lets its channel's held publications go. */
  #pump(): void {
    if (this.socket.readyState !== FakeWebSocket.OPEN || this.#hungUp) return;
    for (let piece = this.#sender?.next(); piece !== undefined; piece = this.#sender?.next()) {
      this.socket.receive(piece.wire);
      if (piece.done !== undefined) this.#release(piece.done);
    }
  }

  /** `channel`'s transfer ended: its held publications go, up to the next large one. */
  #release(channel: string): void {
    const held = this.#held.get(channel) ?? [];
    this.#held.delete(channel);
    while (held.length > 0 && !this.#held.has(channel)) this.#publish(held.shift() as PublicationFrame, 'publish');
    if (held.length > 0) this.#held.get(channel)?.push(...held);
  }

  /** Runs `work` on the server's scheduler, never inside the client's own write. */
  #later(work: () => void): void {
    (this.#context.scheduler ?? asapScheduler).schedule(() => {
      if (this.socket.readyState === FakeWebSocket.OPEN && !this.#hungUp) work();
    });
  }

  #count(frame: Frame): void {
    if (frame.type === 'hello' && this.#hello === undefined) this.#hello = frame;
    if (this.#hungUp) return; // a silent server takes nothing
    if (frame.type === 'ping' && this.#context.pong) this.#pong(frame.t);
    const session = this.#session;
    if (session === undefined) return;
    if (frame.type === 'message') {
      session.received++;
      if (frame.id !== undefined) session.ids.set(frame.id, 'message');
    } else if (frame.type === 'request') {
      session.ids.set(frame.id, 'request');
    }
  }

  /** Answers a ping as a server must, on the next turn (never inside the client's own write). */
  #pong(t: number | undefined): void {
    (this.#context.scheduler ?? asapScheduler).schedule(() => {
      if (this.socket.readyState === FakeWebSocket.OPEN && !this.#hungUp) this.socket.receive(encodeText({ type: 'pong', ...(t === undefined ? {} : { t }) }));
    });
  }

  #take(type: Frame['type'] | undefined, channel: string | undefined): Frame | undefined {
    const found = this.#frames.find((f) => !this.#taken.has(f) && (type === undefined || f.type === type) && (channel === undefined || ('channel' in f && f.channel === channel)));
    if (found !== undefined) this.#taken.add(found);
    return found;
  }

  /** Encodes and delivers a frame of a helper, after the helper's own checks (open, welcomed). */
  #script<F extends ServerFrame>(what: string, frame: F): F {
    this.#requireSession(what);
    this.#deliver(encode(frame), what);
    return frame;
  }

  #deliver(wire: string | Uint8Array, what: string): void {
    this.#requireOpen(what);
    this.socket.receive(wire);
  }

  #requireOpen(what: string): void {
    if (this.#constructing) throw new InvalidArgumentError(`${what}() while the client is still constructing its socket: schedule it (a later action, or autoWelcome)`);
    if (this.#hungUp) throw new InvalidArgumentError(`${what}() after hangUp(): ${this.#whereabouts()}`);
    if (this.socket.readyState !== FakeWebSocket.OPEN) throw new InvalidArgumentError(`${what}() on a socket that is not open: ${this.#whereabouts()}`);
  }

  #requireSession(what: string): Session {
    this.#requireOpen(what);
    const session = this.#session;
    if (session === undefined) {
      throw new InvalidArgumentError(`${what}() before welcome(): the client drops such frames until it is welcomed (PROTOCOL.md 5.3); use send() to test exactly that. ${this.#whereabouts()}`);
    }
    return session;
  }

  /** The id of `target` after checking that this session received a `kind` with it. */
  #known(target: { readonly id?: number; readonly channel?: string } | number, kind: 'message' | 'request', what: string): number {
    const session = this.#requireSession(what);
    const id = typeof target === 'number' ? target : target.id;
    if (id === undefined) {
      throw new InvalidArgumentError(`${what}(): the message on "${String(typeof target === 'number' ? '' : target.channel)}" has no id: the client asks for an ack only with send(data, { ack: true })`);
    }
    if (session.ids.get(id) === kind) return id;
    const same = [...session.ids].filter(([, k]) => k === kind).map(([known]) => known);
    throw new InvalidArgumentError(
      `${what}(${id}): session ${session.id} received no ${kind} with id ${id} (${kind} ids so far: ${same.length === 0 ? 'none' : same.join(', ')}); ${this.#whereabouts()}${this.#hint()}`,
    );
  }

  /** Where this connection stands and what it received, for error messages. */
  #whereabouts(): string {
    const n = this.#context.numberOf(this);
    const closed = this.#closed;
    const state =
      closed !== undefined
        ? `closed by the ${closed.by} (${closed.code}${closed.reason === '' ? '' : ` ${closed.reason}`})`
        : this.#hungUp
          ? 'hung up'
          : this.socket.readyState === FakeWebSocket.CONNECTING
            ? 'connecting, not accepted yet (accept() or welcome() opens it)'
            : this.#session === undefined
              ? 'open, not welcomed'
              : `open, session ${this.#session.id}`;
    const received = this.#frames.map((f) => (this.#taken.has(f) ? `(${describeFrame(f)})` : describeFrame(f)));
    return `connection ${n} (${this.url}, ${state}) received [${received.join(', ')}] (parenthesized: taken by earlier waits)${this.#errors.length === 0 ? '' : `, and ${this.#errors.length} undecodable: ${this.#errors.map((e) => e.code).join(', ')}`}`;
  }

  #hint(): string {
    return this.#frames.length <= 1
      ? '. The client writes what it sends once welcomed, and what it sends while open after the current turn (a microtask; later at the same virtual time under TestScheduler)'
      : '';
  }
}

/** "a subscribe on "a"", for messages. */
function describeWanted(type: string | undefined, channel: string | undefined): string {
  return `${type ?? 'frame'}${channel === undefined ? '' : ` on "${channel}"`}`;
}

/** The object without its undefined properties (optional frame fields must be absent, not undefined). */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The four transfer keys of a limits object. */
function transferKeys(limits: TransferLimits): TransferLimits {
  const { chunkBytes, window, maxMessageBytes, maxTransfers } = limits;
  return { chunkBytes, window, maxMessageBytes, maxTransfers };
}
