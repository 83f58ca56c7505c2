/**
 * One WebSocket connection's protocol state machine: lifecycle, heartbeat,
 * and the order frames are handled in. It knows nothing about `ws`: an
 * adapter hands it a {@link Transport} and feeds it messages.
 *
 * ```
 *   socket open ──▶ awaiting-hello ──hello──▶ attaching ──session opened──▶ open ──close()──▶ closing ──▶ closed
 *                        │  (other frames: error UNEXPECTED_FRAME, close 4400)                 ▲
 *                        └─────────────────────────── transport closed ────────────────────────┘
 * ```
 *
 * `attaching` lasts while the session store answers the hello (at once for
 * the memory store). What outlives the socket is its {@link Session}. The
 * concerns live next to this file: channels and replay (`subscriptions.ts`),
 * messages and acks (`acks.ts`), requests (`requests.ts`), receipts
 * (`receipts.ts`), the batching writer (`writer.ts`), chunked transfers
 * (`transfers.ts`, protocol v2).
 */
import {
  CloseCode,
  decodeBinary,
  decodeText,
  encodeBinary,
  ErrorCode,
  fullBucket,
  messageCost,
  PROTOCOL_VERSION,
  scanText,
  takeTokens,
  subprotocolVersion,
  TRANSFER_VERSION,
  transferLimitsOf,
  type BucketRate,
  type BucketState,
  type Frame,
  type HelloFrame,
  type MessageFrame,
  type Payload,
  type RefreshFrame,
  type RequestFrame,
  type SubscribeFrame,
  RESERVED_CHANNEL_PREFIX,
  TICKET_CHANNEL,
  type ServerLimits,
} from '@rxmux/core/protocol';
import type { Verified, Verify } from '../../credentials.js';
import { TICKET_TTL_MS, type TicketStore } from '../tickets.js';
import type { Limits } from '../../limits.js';
import type { ChannelAction, ChannelContext, ChannelHandler, ConnectionInfo } from '../../types.js';
import { after } from '../awaitable.js';
import type { SocketHandle, Transport } from '../transport.js';
import type { AppHost } from './handler-socket.js';
import { handleMessage, type MessageSocket } from './acks.js';
import { HandlerContext, type ContextSocket } from './context.js';
import { receiptEnvelope, sendReceipt, taken, type ReceiptClock, type ReceiptSocket } from './receipts.js';
import { cancelRequest, handleRequest } from './requests.js';
import type { Session, SessionSocket } from './session.js';
import type { OpenedSession, SessionStore } from './session-store.js';
import { Subscriptions, type ChannelHost } from './subscriptions.js';
import { announcedTransfers, received, SocketTransfers, type PieceSocket } from './transfers.js';
import { WelcomeHold } from './welcome-hold.js';
import { Writer, type Outbox, type WriterOwner } from './writer.js';
import { principalKey, type Quotas, type Release } from '../quotas.js';
import type { Backlog, CutReason } from '../backlog.js';

/** The protocol states of a socket. */
export type SocketState = 'awaiting-hello' | 'attaching' | 'open' | 'closing' | 'closed';

/** What a socket needs from the server core; each concern takes its own part. */
export interface SocketHost<P> {
  readonly limits: Limits;
  /** The per-connection token bucket's rate (from `limits`). */
  readonly rate: BucketRate;
  /** How much of a message's size one token pays for (`bytesPerToken` of the announced limits). */
  readonly perToken: number;
  /** What `welcome` announces: the decode limits and the rate the client must keep. */
  readonly announced: ServerLimits;
  /** Whether the server speaks protocol v2 (chunked transfers): a hello of version 2 is accepted. */
  readonly transfers: boolean;
  readonly heartbeatInterval: number;
  readonly store: SessionStore<P>;
  readonly tickets: TicketStore<P>;
  readonly app: AppHost<P>;
  readonly channels: ChannelHost<P>;
  readonly outbox: Outbox;
  readonly receipts: ReceiptClock;
  /** The caps per address and per principal (running requests). */
  readonly quotas: Quotas;
  /** A request was refused by a cap. */
  overCapacity(): void;
  /** The welcome went out: the session (new or resumed) is open on this socket. */
  welcomed(socket: SocketSession<P>): void;
  /** Lets the store keep `session` for a resume (`keep`) or end it; never throws, failures are reported. */
  detach(socket: SocketSession<P>, session: Session<P>, keep: boolean): void;
  /** The socket is gone; `code` and `reason` are the ones the server chose when it closed it. */
  closed(socket: SocketSession<P>, code: number, reason: string): void;
  /** The socket sent more than its rate allows; it is being closed with 1008. */
  rateLimited(socket: SocketSession<P>): void;
  /** The socket was cut as a slow consumer (`Backlog`); it is being closed with 1008. */
  slowConsumer(socket: SocketSession<P>, buffered: number): void;
  /** The slow-consumer rule: a closed socket is no longer watched. */
  readonly backlog: Backlog;
  error(error: unknown, socket?: SocketSession<P>): void;
}

/** Most error frames sent in answer to one incoming message (a bad batch yields one per envelope). */
const MAX_ERRORS_PER_MESSAGE = 16;

/** The smallest frame size a client may ask for in `hello.limits` (a hostile tiny value only hurts itself, but stays sane). */
const MIN_PEER_FRAME_BYTES = 1024;

/**
 * Frames one socket handles in one turn of the event loop; the rest wait in
 * its inbox for the next turn (`setImmediate`), so a batch of a thousand
 * messages to a fan-out handler does not hold up every other client.
 */
export const FRAMES_PER_TURN = 64;

/**
 * Frames that wait in one inbox (behind an asynchronous step, or for the
 * next turn) at most, in multiples of `maxBatch`, or the rate's burst if
 * that is more: a client within its rate never meets it. The transport stops
 * reading while frames wait; the cap meets only what was already in flight.
 */
const INBOX_BATCHES = 2;

/** Bytes of received messages that wait in one inbox at most, in multiples of `maxFrameBytes`. */
const INBOX_FRAMES_BYTES = 4;

/** One connection's protocol state. Kept small: an idle socket is a handful of fields. */
export class SocketSession<P> implements SocketHandle, SessionSocket, WriterOwner, ReceiptSocket, MessageSocket<P>, ContextSocket<P>, PieceSocket {
  state: SocketState = 'awaiting-hello';
  /** The protocol version the hello named (2: chunked transfers). */
  version: number = PROTOCOL_VERSION;
  /** When the peer was last heard from (any message, pong). */
  lastSeen: number;
  /** The session this socket serves, once hello opened it. */
  session: Session<P> | undefined;
  /** The `received` count of the last receipt (or welcome) this socket sent. */
  receipted = 0;
  readonly writer: Writer;
  private readonly createdAt: number;
  private sessionId: string;
  private channels: Subscriptions<P> | undefined;
  /**
   * Frames waiting while an asynchronous step runs (authorize, the session
   * store) or for the next turn ({@link FRAMES_PER_TURN}), so frames keep
   * their order; with the size of the messages they came in.
   */
  private inbox: Frame[] | undefined;
  private inboxBytes = 0;
  /** Whether the transport was asked to stop reading while frames wait in the inbox. */
  private readingPaused = false;
  /** Frames received and frames handled (settled), so the welcome knows when its hello batch is answered. */
  private framesIn = 0;
  private framesDone = 0;
  /** While the hello batch is being answered: the welcome waits for it (welcome-hold.ts). */
  private welcomeHold: WelcomeHold | undefined;
  private readonly bucket: BucketState;
  /** The close code and reason the server chose, reported by `onClose` instead of what the socket saw (1006 when the peer never answered). */
  private closedWith: { readonly code: number; readonly reason: string } | undefined;
  /** When the credentials expire (`Date.now()` ms), if they do. */
  private expiresAt: number | undefined;
  /** Closes the socket with 4401 when the credentials expire without a refresh. */
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: SocketHost<P>,
    private readonly transport: Transport,
    /** A provisional id until hello opens a session (new or resumed). */
    id: string,
    /** Who is on the socket; replaced when a `refresh` brings new credentials. */
    public principal: P,
    now: number,
    /** The client address the socket is counted under (its requests too). */
    private readonly address: string | undefined,
    /** Checks the token of a `refresh` (absent: the adapter authenticated, and refreshes are refused). */
    private readonly verify?: Verify<P>,
    expiresAt?: number,
  ) {
    this.sessionId = id;
    this.lastSeen = now;
    this.createdAt = now;
    this.bucket = fullBucket(host.rate, now);
    this.writer = new Writer(this, transport, host.outbox, host.limits);
    this.expireAt(expiresAt, now);
  }

  /** The session id: the one `welcome` announced (after hello), provisional before. */
  get id(): string {
    return this.sessionId;
  }

  get info(): ConnectionInfo<P> {
    return { session: this.id, principal: this.principal, transport: 'ws' };
  }

  // ---- SocketHandle: what the adapter calls -------------------------------------

  message(data: string | Uint8Array, now = Date.now()): void {
    try {
      this.receive(data, now);
    } catch (error) {
      // A bug of ours must cost this connection at most, never the process.
      this.error(error);
      this.close(CloseCode.InternalError, 'internal error');
    }
  }

  pong(now = Date.now()): void {
    this.lastSeen = now;
  }

  /**
   * The socket is gone: leave every channel (a resuming client re-joins with
   * its positions). Running handlers go on; their answers wait in the session
   * for a resume, which the host decides on.
   */
  closed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.release();
    // The code the server chose, when it chose one: a peer that never answered the close frame shows as 1006.
    this.host.closed(this, this.closedWith?.code ?? code, this.closedWith?.reason ?? reason);
  }

  // ---- lifecycle -------------------------------------------------------------------

  /** Heartbeat tick: terminate if silent too long, otherwise ping (protocol + transport) and send an owed receipt. */
  heartbeat(now: number, timeout: number): void {
    if (now - this.lastSeen > timeout) {
      this.transport.terminate();
      return;
    }
    if (this.state === 'awaiting-hello' && now - this.createdAt > timeout) {
      // Answering WebSocket pings is not enough: a socket that never says hello is dropped.
      this.close(CloseCode.PolicyViolation, 'no hello');
      return;
    }
    if (this.state !== 'open') return;
    if (this.expireTransfers(now)) return;
    this.writer.frame({ type: 'ping', t: now });
    sendReceipt(this);
    this.guard(() => this.transport.ping());
  }

  /** Starts closing: flushes what is queued, then the close handshake. */
  close(code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.writer.flush();
    this.state = 'closing';
    this.closedWith = { code, reason };
    this.guard(() => this.transport.close(code, reason));
  }

  /** Destroys the socket at once (shutdown grace period over). */
  abort(): void {
    this.guard(() => this.transport.terminate());
  }

  /** {@link SessionSocket}: a resuming hello on another socket took this session over. */
  superseded(): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    // The session lives on in the socket that took it over. This one leaves its channels now,
    // as any socket does (presence leave, onUnsubscribe), before the new socket's subscribes are
    // read: channels the client gave up during the outage must not keep a member, and the ones
    // it re-joins get leave then join. Its close event comes later and finds nothing to leave.
    this.release();
    this.closedWith = { code: CloseCode.Abnormal, reason: 'superseded by a resuming socket' };
    this.guard(() => this.transport.terminate());
  }

  /** {@link SessionSocket}: an answer of the session (ack, response) for this socket. */
  enqueue(envelope: string): void {
    this.writer.enqueue(envelope);
  }

  /** {@link WriterOwner}: the receipt that rides with this write, if one is owed. */
  receipt(): string | undefined {
    return receiptEnvelope(this);
  }

  /** {@link Backlogged}: bytes the transport has not sent yet, and frames waiting behind a chunked transfer (v2). */
  get buffered(): number {
    return this.transport.bufferedAmount + (this.writer.transfers?.laneBytes ?? 0);
  }

  /**
   * {@link Backlogged}: a slow consumer (too much buffered, no progress, or
   * too much of the server's buffers): closed with 1008 and destroyed at
   * once, so its buffers are let go now, not after a close handshake a
   * client that does not read would never finish.
   */
  cut(buffered: number, reason: CutReason): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.host.slowConsumer(this, buffered);
    this.state = 'closing';
    this.closedWith = { code: CloseCode.PolicyViolation, reason };
    this.writer.drop();
    this.guard(() => this.transport.close(CloseCode.PolicyViolation, reason));
    this.guard(() => this.transport.terminate());
  }

  /** {@link MessageSocket}: one `message` envelope was taken. */
  take(): void {
    taken(this, this.host.receipts);
  }

  error(error: unknown): void {
    this.host.error(error, this);
  }

  // ---- incoming --------------------------------------------------------------------

  /**
   * One WebSocket message. The rate limit is charged before anything is
   * parsed: one envelope and the message's size first, then (text) the
   * envelopes a cheap scan counts, which also refuses a frame nested too
   * deep; what the bucket cannot pay for is never parsed. The decode's own
   * count refines the charge.
   */
  private receive(data: string | Uint8Array, now: number): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.lastSeen = now;
    const { rate, perToken, limits } = this.host;
    const size = typeof data === 'string' ? data.length : data.byteLength;
    let charged = messageCost(1, size, perToken);
    if (!takeTokens(this.bucket, charged, now, rate)) return this.rateLimited(1, data);
    const shape = typeof data === 'string' && size <= limits.maxFrameBytes ? scanText(data) : undefined;
    // A batch over maxBatch is refused whole before parsing: it costs one envelope.
    if (shape !== undefined && shape.envelopes > 1 && shape.envelopes <= limits.maxBatch) {
      const more = messageCost(shape.envelopes, size, perToken) - charged;
      if (!takeTokens(this.bucket, more, now, rate)) return this.rateLimited(shape.envelopes, data);
      charged += more;
    }
    const { frames, errors } = typeof data === 'string' ? decodeText(data, limits, shape) : decodeBinary(data, limits);
    const count = frames.length + errors.length;
    this.host.outbox.countIn(data, count);
    const rest = messageCost(count, size, perToken) - charged;
    if (rest > 0 && !takeTokens(this.bucket, rest, now, rate)) return this.rateLimited(count);
    for (const error of errors.slice(0, MAX_ERRORS_PER_MESSAGE)) this.writer.error(error.code, error.message, error.channel);
    this.framesIn += frames.length;
    if (frames.length > 0) this.process(frames, size);
  }

  /**
   * The connection sent more than its announced rate allows. Nothing of the
   * message runs, and the socket is closed: dropping it and going on would
   * lose frames silently (a subscribe, a message whose receipt count the
   * client relies on). A resuming client re-sends what was not received.
   */
  private rateLimited(envelopes: number, unparsed?: string | Uint8Array): void {
    if (unparsed !== undefined) this.host.outbox.countIn(unparsed, envelopes);
    this.host.rateLimited(this);
    const { rate, burst } = this.host.announced;
    this.writer.error(ErrorCode.RateLimited, `${envelopes} envelope(s) over the rate limit (${rate}/s, burst ${burst}): closing`);
    this.close(CloseCode.PolicyViolation, 'rate limit exceeded');
  }

  /**
   * Handles frames in order. An asynchronous step parks the rest in the
   * inbox until it settles; after {@link FRAMES_PER_TURN} frames the rest
   * wait for the next turn. `bytes` is the size of the message they came in.
   */
  private process(frames: readonly Frame[], bytes: number): void {
    if (this.inbox !== undefined) {
      this.inbox.push(...frames);
      this.inboxBytes += bytes;
      const { maxBatch, maxFrameBytes, rateBurst } = this.host.limits;
      if (this.inbox.length > Math.max(INBOX_BATCHES * maxBatch, rateBurst) || this.inboxBytes > INBOX_FRAMES_BYTES * maxFrameBytes) {
        this.writer.error(ErrorCode.RateLimited, 'too many frames waiting to be handled: closing');
        this.close(CloseCode.PolicyViolation, 'too much waiting');
      }
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      if (i === FRAMES_PER_TURN) {
        this.park(frames.slice(i), bytes);
        setImmediate(() => this.resume(false));
        return;
      }
      const pending = this.handle(frames[i] as Frame);
      if (pending !== undefined) {
        this.park(frames.slice(i + 1), bytes);
        // A step that fails must neither stay unhandled nor leave the frames behind it parked forever.
        void pending.then(
          () => this.resume(true),
          (error: unknown) => {
            this.error(error);
            this.resume(true);
          },
        );
        return;
      }
    }
  }

  private park(frames: Frame[], bytes: number): void {
    this.inbox = frames;
    this.inboxBytes = frames.length === 0 ? 0 : bytes;
    // Backpressure: while frames wait, the transport stops reading, so a client that sends faster than its
    // share of the loop is slowed by TCP rather than cut; the caps below only meet what was already in flight.
    if (!this.readingPaused) {
      this.readingPaused = true;
      this.guard(() => this.transport.pause?.());
    }
  }

  /** Handles what waited in the inbox: after an asynchronous step (`stepped`: only once the socket is open), or in the next turn. */
  private resume(stepped: boolean): void {
    const rest = this.inbox;
    const bytes = this.inboxBytes;
    this.inbox = undefined;
    this.inboxBytes = 0;
    if (rest !== undefined && rest.length > 0 && (stepped ? this.state === 'open' : this.state !== 'closing' && this.state !== 'closed')) this.process(rest, bytes);
    this.readAgainIfIdle();
  }

  /** The inbox is empty (nothing parked by what just ran): the transport reads again. */
  private readAgainIfIdle(): void {
    if (this.inbox !== undefined || !this.readingPaused) return;
    this.readingPaused = false;
    this.guard(() => this.transport.resume?.());
  }

  /** Handles one frame, counting it handled once it settled (the welcome hold waits for the hello batch). */
  private handle(frame: Frame): Promise<void> | undefined {
    const pending = this.dispatch(frame);
    if (pending === undefined || this.welcomeHold === undefined) {
      this.handled();
      return pending;
    }
    return pending.finally(() => this.handled());
  }

  /** One more frame settled: once every frame received so far has, the held welcome goes. */
  private handled(): void {
    this.framesDone++;
    if (this.welcomeHold !== undefined && this.framesDone >= this.framesIn) {
      this.welcomeHold.release();
      this.welcomeHold = undefined;
    }
  }

  private dispatch(frame: Frame): Promise<void> | undefined {
    if (frame.type === 'hello') return this.hello(frame);
    if (frame.type === 'pong') return undefined; // allowed in any state (PROTOCOL.md 6.1); lastSeen is already updated
    if (this.state !== 'open') {
      // PROTOCOL.md 5.2: hello first. Retrying cannot help a client that does not speak the protocol.
      this.writer.error(ErrorCode.UnexpectedFrame, `${frame.type} before hello: the first frame must be hello`);
      this.close(CloseCode.BadRequest, 'hello expected');
      return undefined;
    }
    if ((frame.type === 'subscribe' || frame.type === 'message' || frame.type === 'request') && frame.channel.startsWith(RESERVED_CHANNEL_PREFIX)) {
      return this.reserved(frame);
    }
    switch (frame.type) {
      case 'ping':
        this.writer.frame(frame.t === undefined ? { type: 'pong' } : { type: 'pong', t: frame.t });
        return undefined;
      case 'subscribe':
        return (this.channels ??= new Subscriptions(this, this.host.channels)).subscribe(frame);
      case 'unsubscribe':
        this.channels?.unsubscribe(frame.channel);
        this.writer.transfers?.abandon(frame.channel); // nobody there to take the rest
        return undefined;
      case 'message':
        return handleMessage(this, frame);
      case 'request':
        return handleRequest(this, frame);
      case 'cancel':
        cancelRequest(this.session, frame.id);
        return undefined;
      case 'refresh':
        return this.refresh(frame);
      case 'transfer':
      case 'chunk':
      case 'credit':
      case 'abort':
        if (this.writer.transfers !== undefined) return this.transferFrame(frame, this.writer.transfers);
        this.writer.error(ErrorCode.UnexpectedFrame, `${frame.type} needs protocol v2 (chunked transfers), and this socket speaks v${this.version}`);
        return undefined;
      default:
        this.writer.error(ErrorCode.UnexpectedFrame, `${frame.type} is not a frame a client may send`);
        return undefined;
    }
  }

  /** Opens the session the hello names (a resume) or a new one; frames behind the hello wait for the store. */
  private hello({ version, session: name, limits }: HelloFrame): Promise<void> | undefined {
    if (this.state !== 'awaiting-hello') {
      this.writer.error(ErrorCode.UnexpectedFrame, 'hello was already received on this socket');
      return undefined;
    }
    // The version the handshake's subprotocol selected (rxmux.v2 only when the server speaks it).
    const negotiated = this.transport.protocol === undefined ? PROTOCOL_VERSION : (subprotocolVersion(this.transport.protocol) ?? PROTOCOL_VERSION);
    if (version !== negotiated || (version === TRANSFER_VERSION && !this.host.transfers)) {
      this.writer.error(ErrorCode.UnsupportedProtocol, `protocol version ${version} is not the one this socket negotiated (${negotiated})`);
      this.close(CloseCode.UnsupportedProtocol, 'unsupported protocol version');
      return undefined;
    }
    this.state = 'attaching';
    this.version = version;
    // Subscribes came with the hello (the hello batch, PROTOCOL.md 6.1): the welcome waits for their answers.
    if (this.framesIn > this.framesDone + 1) this.welcomeHold = new WelcomeHold(this.writer);
    if (limits !== undefined) {
      const own = this.host.limits;
      this.writer.peer = {
        maxFrameBytes: Math.max(MIN_PEER_FRAME_BYTES, Math.min(own.maxFrameBytes, limits.maxFrameBytes)),
        maxBatch: Math.min(own.maxBatch, limits.maxBatch),
      };
      // v2: chunked transfers when the client announced what it accepts (without, whole frames as in v1).
      const accepts = version === TRANSFER_VERSION ? transferLimitsOf(limits) : undefined;
      if (accepts !== undefined) this.writer.transfers = new SocketTransfers({ ...accepts, ...this.writer.peer }, own, this.writer, Date.now());
    }
    return after(
      this.host.store.open(name, this.principal, this),
      (opened) => this.welcome(opened, name !== undefined),
      (error: unknown) => {
        this.error(error);
        this.close(CloseCode.InternalError, 'session store unavailable');
      },
    );
  }

  /** The store answered: welcome, then the answers that completed while the session was detached. */
  private welcome({ session, resumed }: OpenedSession<P>, named: boolean): Promise<void> | undefined {
    if (this.state !== 'attaching') {
      // Gone while the store answered: the client never saw this welcome. A resumed session stays resumable.
      this.host.detach(this, session, resumed);
      return undefined;
    }
    this.state = 'open';
    this.session = session;
    this.sessionId = session.id;
    this.receipted = session.received;
    this.writer.frame({
      type: 'welcome',
      version: this.version,
      session: session.id,
      heartbeat: this.host.heartbeatInterval,
      ...(named ? { resumed } : {}),
      received: session.received,
      limits: this.version === TRANSFER_VERSION ? { ...this.host.announced, ...announcedTransfers(this.host.limits) } : this.host.announced,
      ...(this.expiresAt === undefined ? {} : { expiresIn: Math.max(0, this.expiresAt - Date.now()) }),
    });
    this.host.welcomed(this);
    return after(
      session.drain(),
      (answers) => {
        for (const envelope of answers) this.writer.enqueue(envelope);
      },
      (error: unknown) => this.error(error),
    );
  }

  // ---- for the frame handlers (HandlerSocket) -----------------------------------------

  authorized(channel: string, action: ChannelAction, allowed: () => Promise<void> | void, refused: () => void, gone?: () => void): Promise<void> | undefined {
    const verdict = this.host.app.authorize(this.principal, channel, action);
    const decide = (ok: boolean): Promise<void> | void => {
      if (this.state !== 'open') return gone?.();
      return ok ? allowed() : refused();
    };
    if (typeof verdict !== 'boolean') return verdict.then(decide);
    const next = decide(verdict);
    return next instanceof Promise ? next : undefined;
  }

  handler(channel: string): ChannelHandler<P> | undefined {
    return this.host.app.resolve(channel);
  }

  holdRequest(): Release | undefined {
    const held = this.host.quotas.take('requests', this.address, principalKey(this.principal));
    if (typeof held !== 'string') return held;
    this.host.overCapacity();
    return undefined;
  }

  context(channel: string): ChannelContext<P> {
    return new HandlerContext(this, channel);
  }

  /** {@link ContextSocket}: a handler's `ctx.publish`. */
  publishTo(channel: string, data: Payload): void {
    this.host.app.publish(channel, data);
  }

  /** {@link ContextSocket}: a handler's `ctx.send`, a publication to this socket only (in pieces when large, on v2). */
  sendTo(channel: string, data: Payload): void {
    if (this.state !== 'open') return;
    const v1 = (): void => {
      if (data instanceof Uint8Array) this.writer.binary(encodeBinary({ type: 'publication', channel, data }));
      else this.writer.frame({ type: 'publication', channel, data });
    };
    if (this.writer.transfers === undefined) v1();
    else this.writer.transfers.send(channel, data, v1);
  }

  // ---- chunked transfers (v2) -----------------------------------------------------------

  /** A transfer frame from the client: a piece (whole, it is handled as its message), a credit, an abort. */
  private transferFrame(frame: Frame & { readonly type: 'transfer' | 'chunk' | 'credit' | 'abort' }, transfers: SocketTransfers): Promise<void> | undefined {
    if (frame.type === 'credit') transfers.credited(frame.bytes, Date.now());
    else if (frame.type === 'abort') transfers.aborted(frame);
    else {
      const whole = received(this, transfers.take(frame, Date.now()));
      if (whole !== undefined) return this.handle(whole);
    }
    return undefined;
  }

  /** Heartbeat tick: the client's stalled transfers are refused; a client that stopped taking ours is a slow consumer. Returns whether the socket closes. */
  private expireTransfers(now: number): boolean {
    const transfers = this.writer.transfers;
    if (transfers === undefined) return false;
    for (const reception of transfers.expire(now)) received(this, reception);
    if (!transfers.stalled(now, this.host.limits.transferTimeoutMs)) return false;
    this.cut(this.buffered, 'slow consumer');
    return true;
  }

  /** {@link PieceSocket}: the client sent past its window. */
  violated(message: string): void {
    this.writer.error(ErrorCode.FlowControl, message);
    this.close(CloseCode.PolicyViolation, 'flow control window exceeded');
  }

  // ---- internals ---------------------------------------------------------------------

  /**
   * A frame on one of the protocol's own channels (`$rxmux.…`): a ticket
   * request is answered; anything else is refused, as an app's channel
   * refused by `authorize` would be.
   */
  private reserved(frame: SubscribeFrame | MessageFrame | RequestFrame): Promise<void> | undefined {
    const refused = `${frame.channel} is reserved for the protocol`;
    if (frame.type === 'subscribe') {
      this.writer.frame({ type: 'unsubscribed', channel: frame.channel, code: ErrorCode.Forbidden, reason: refused });
      return undefined;
    }
    if (frame.type === 'message') {
      this.take(); // counted like any message taken (receipts)
      this.writer.error(ErrorCode.Forbidden, refused, frame.channel, frame.id);
      return undefined;
    }
    if (frame.channel !== TICKET_CHANNEL) {
      this.writer.frame({ type: 'request-error', id: frame.id, code: ErrorCode.Forbidden, message: refused });
      return undefined;
    }
    const { id } = frame;
    return after(
      this.host.tickets.issue(this.principal, TICKET_TTL_MS),
      (ticket) => {
        if (this.state === 'open') this.writer.frame({ type: 'response', id, data: { ticket, expiresIn: TICKET_TTL_MS } });
      },
      (error: unknown) => {
        this.error(error);
        this.writer.frame({ type: 'request-error', id, code: ErrorCode.Remote, message: 'no ticket could be issued' });
      },
    );
  }

  /**
   * New credentials on the live socket: checked as the hello's were; refused,
   * the socket closes with 4401; accepted, the principal and expiry are
   * replaced and every joined channel is authorized again. Frames behind the
   * refresh wait for the verdict, so nothing runs with stale rights.
   */
  private refresh({ token }: RefreshFrame): Promise<void> | undefined {
    const verify = this.verify;
    if (verify === undefined) {
      this.writer.error(ErrorCode.UnexpectedFrame, 'this server does not take credentials from the client');
      return undefined;
    }
    return verify(token).then((verified) => this.refreshed(verified));
  }

  private refreshed(verified: Verified<P> | undefined): Promise<void> | undefined {
    if (this.state !== 'open') return undefined;
    if (verified === undefined) {
      this.writer.error(ErrorCode.Unauthorized, 'the new credentials were refused');
      this.close(CloseCode.Unauthorized, 'unauthorized');
      return undefined;
    }
    this.principal = verified.principal;
    this.expireAt(verified.expiresAt, Date.now());
    const rechecked = this.channels?.reauthorize();
    const answer = (): void => {
      if (this.state !== 'open') return;
      this.writer.frame(this.expiresAt === undefined ? { type: 'refreshed' } : { type: 'refreshed', expiresIn: Math.max(0, this.expiresAt - Date.now()) });
    };
    if (rechecked === undefined) {
      answer();
      return undefined;
    }
    return rechecked.then(answer);
  }

  /** Arms (or clears) the expiry of the credentials. */
  private expireAt(expiresAt: number | undefined, now: number): void {
    clearTimeout(this.expiry);
    this.expiry = undefined;
    this.expiresAt = expiresAt;
    if (expiresAt === undefined) return;
    // setTimeout takes at most 2^31-1 ms; an expiry further away is re-armed by the next refresh anyway.
    this.expiry = setTimeout(() => {
      this.writer.error(ErrorCode.Unauthorized, 'the credentials expired');
      this.close(CloseCode.Unauthorized, 'credentials expired');
    }, Math.min(Math.max(0, expiresAt - now), 2 ** 31 - 1));
    this.expiry.unref();
  }

  /** Nothing more goes out or comes in; the socket leaves its channels. */
  private release(): void {
    clearTimeout(this.expiry);
    this.expiry = undefined;
    this.host.backlog.forget(this);
    this.writer.drop();
    this.writer.transfers?.clear();
    this.welcomeHold?.release();
    this.welcomeHold = undefined;
    this.inbox = undefined;
    this.inboxBytes = 0;
    const channels = this.channels;
    this.channels = undefined;
    channels?.leaveAll();
  }

  private guard(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.error(error);
    }
  }
}

