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
 * concerns live next to this file: what comes in and its pace (`inbox.ts`),
 * channels and replay (`subscriptions.ts`), messages and acks (`acks.ts`),
 * requests (`requests.ts`), receipts (`receipts.ts`), the credentials'
 * expiry and refresh (`credentials.ts`), the protocol's own channels
 * (`reserved.ts`), the batching writer (`writer.ts`), chunked transfers
 * (`transfers.ts`, protocol v2).
 */
import {
  CloseCode,
  ErrorCode,
  PROTOCOL_VERSION,
  subprotocolVersion,
  TRANSFER_VERSION,
  type Frame,
  type HelloFrame,
  type Payload,
  RESERVED_CHANNEL_PREFIX,
  type ServerLimits,
} from '@rxmux/core/protocol';
import type { Verify } from '../../credentials.js';
import type { TicketStore } from '../tickets.js';
import type { ChannelAction, ChannelContext, ChannelHandler, ConnectionInfo } from '../../types.js';
import { after } from '../awaitable.js';
import type { SocketHandle, Transport } from '../transport.js';
import type { AppHost } from './handler-socket.js';
import { handleMessage, type MessageSocket } from './acks.js';
import { HandlerContext, type ContextSocket } from './context.js';
import { SocketCredentials, type CredentialsOwner } from './credentials.js';
import { Inbox, type InboxHost, type InboxOwner } from './inbox.js';
import { receiptEnvelope, sendReceipt, taken, type ReceiptClock, type ReceiptSocket } from './receipts.js';
import { cancelRequest, handleRequest } from './requests.js';
import { reservedFrame, type ReservedSocket } from './reserved.js';
import type { Session, SessionSocket } from './session.js';
import type { OpenedSession, SessionStore } from './session-store.js';
import { Subscriptions, type ChannelHost } from './subscriptions.js';
import { announcedTransfers, expireTransfers, transferFrame, type PieceSocket } from './transfers.js';
import type { Agreements } from './agreements.js';
import { WelcomeHold } from './welcome-hold.js';
import { Writer, type Outbox, type WriterOwner } from './writer.js';
import { principalKey, type Hold, type Quotas } from '../quotas.js';
import type { Backlog, CutReason } from '../backlog.js';

/** The protocol states of a socket. */
export type SocketState = 'awaiting-hello' | 'attaching' | 'open' | 'closing' | 'closed';

/** What a socket needs from the server core; each concern takes its own part. */
export interface SocketHost<P> extends InboxHost {
  /** What `welcome` announces: the decode limits and the rate the client must keep. */
  readonly announced: ServerLimits;
  /** Whether the server speaks protocol v2 (chunked transfers): a hello of version 2 is accepted. */
  readonly transfers: boolean;
  /** What a hello's limits agree to, shared by the sockets that announce the same. */
  readonly agreements: Agreements;
  readonly heartbeatInterval: number;
  /** When the server started (ms since 1970): a socket keeps its times relative to it. */
  readonly epoch: number;
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

/** One connection's protocol state. Kept small: an idle socket is a handful of fields. */
export class SocketSession<P>
  implements SocketHandle, SessionSocket, WriterOwner, ReceiptSocket, MessageSocket<P>, ContextSocket<P>, PieceSocket, InboxOwner, CredentialsOwner<P>, ReservedSocket<P>
{
  state: SocketState = 'awaiting-hello';
  /** The protocol version the hello named (2: chunked transfers). */
  version: number = PROTOCOL_VERSION;
  /** The session this socket serves, once hello opened it. */
  session: Session<P> | undefined;
  /** The `received` count of the last receipt (or welcome) this socket sent. */
  receipted = 0;
  readonly writer: Writer;
  /**
   * When the socket opened and when the peer was last heard from (any
   * message, pong), in whole ms since the server's {@link SocketHost.epoch}
   * ({@link sinceEpoch}): small integers, stored in the fields themselves,
   * where a timestamp is a 16 B heap number each (as is the token bucket's
   * time in the inbox, which is kept the same way).
   */
  private readonly openedAt: number;
  private seenAt: number;
  /** Who is on the socket: one object while the session and principal stay, replaced when either changes ({@link info}). */
  private identity: ConnectionInfo<P>;
  private channels: Subscriptions<P> | undefined;
  private readonly inbox: Inbox;
  /** Frames received and frames handled (settled), so the welcome knows when its hello batch is answered. */
  private framesIn = 0;
  private framesDone = 0;
  /** While the hello batch is being answered: the welcome waits for it (welcome-hold.ts). */
  private welcomeHold: WelcomeHold | undefined;
  /** The close code and reason the server chose, reported by `onClose` instead of what the socket saw (1006 when the peer never answered). */
  private closedWith: { readonly code: number; readonly reason: string } | undefined;
  /** The credentials' term and refresh: only when they expire or may be refreshed (the common adapter-authenticated socket has none). */
  private credentials: SocketCredentials<P> | undefined;

  constructor(
    private readonly host: SocketHost<P>,
    private readonly transport: Transport,
    /** A provisional id until hello opens a session (new or resumed). */
    id: string,
    /** Who is on the socket; replaced when a `refresh` brings new credentials. */
    principal: P,
    now: number,
    /** The client address the socket is counted under (its requests too). */
    private readonly address: string | undefined,
    /** Checks the token of a `refresh` (absent: the adapter authenticated, and refreshes are refused). */
    verify?: Verify<P>,
    expiresAt?: number,
  ) {
    this.identity = { session: id, principal, transport: 'ws' };
    this.openedAt = sinceEpoch(now, host.epoch);
    this.seenAt = this.openedAt;
    this.writer = new Writer(this, transport, host.outbox, host.agreements.silent); // until the hello says what the client takes
    this.inbox = new Inbox(this, host, this.openedAt);
    if (verify !== undefined || expiresAt !== undefined) this.credentials = new SocketCredentials(this, verify, expiresAt, now);
  }

  /** The session id: the one `welcome` announced (after hello), provisional before. */
  get id(): string {
    return this.identity.session;
  }

  /** Who is on the socket; replaced when a `refresh` brings new credentials. */
  get principal(): P {
    return this.identity.principal;
  }

  set principal(principal: P) {
    if (principal !== this.identity.principal) this.identity = { ...this.identity, principal };
  }

  /**
   * Who is on the socket, for hooks and presence: one object while the
   * session and principal stay (every channel's presence member is the same
   * object, as an SSE stream's are), a new one once either changed.
   */
  get info(): ConnectionInfo<P> {
    return this.identity;
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
    this.seenAt = sinceEpoch(now, this.host.epoch);
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
    const since = sinceEpoch(now, this.host.epoch);
    if (since - this.seenAt > timeout) {
      this.transport.terminate();
      return;
    }
    if (this.state === 'awaiting-hello' && since - this.openedAt > timeout) {
      // Answering WebSocket pings is not enough: a socket that never says hello is dropped.
      this.close(CloseCode.PolicyViolation, 'no hello');
      return;
    }
    if (this.state !== 'open') return;
    if (expireTransfers(this, now, this.host.limits.transferTimeoutMs)) return;
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

  // ---- incoming (InboxOwner) --------------------------------------------------------

  private receive(data: string | Uint8Array, now: number): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.seenAt = sinceEpoch(now, this.host.epoch);
    this.inbox.receive(data, this.seenAt);
  }

  /** {@link InboxOwner}: frames decoded from one message, to be handled in order (the welcome hold counts them). */
  arrived(count: number): void {
    this.framesIn += count;
  }

  /**
   * {@link InboxOwner}: the connection sent more than its announced rate
   * allows. Nothing of the message runs, and the socket is closed: dropping
   * it and going on would lose frames silently (a subscribe, a message whose
   * receipt count the client relies on). A resuming client re-sends what was
   * not received.
   */
  rateLimited(envelopes: number): void {
    this.host.rateLimited(this);
    const { rate, burst } = this.host.announced;
    this.writer.error(ErrorCode.RateLimited, `${envelopes} envelope(s) over the rate limit (${rate}/s, burst ${burst}): closing`);
    this.close(CloseCode.PolicyViolation, 'rate limit exceeded');
  }

  /** {@link InboxOwner}: backpressure while frames wait. */
  reading(on: boolean): void {
    this.guard(() => (on ? this.transport.resume?.() : this.transport.pause?.()));
  }

  /** Handles one frame, counting it handled once it settled (the welcome hold waits for the hello batch). */
  handle(frame: Frame): Promise<void> | undefined {
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
    if (frame.type === 'pong') return undefined; // allowed in any state (PROTOCOL.md 6.1); seenAt is already updated
    if (this.state !== 'open') {
      // PROTOCOL.md 5.2: hello first. Retrying cannot help a client that does not speak the protocol.
      this.writer.error(ErrorCode.UnexpectedFrame, `${frame.type} before hello: the first frame must be hello`);
      this.close(CloseCode.BadRequest, 'hello expected');
      return undefined;
    }
    if ((frame.type === 'subscribe' || frame.type === 'message' || frame.type === 'request') && frame.channel.startsWith(RESERVED_CHANNEL_PREFIX)) {
      return reservedFrame(this, frame);
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
        return (this.credentials ??= new SocketCredentials(this, undefined, undefined, Date.now())).refresh(frame); // refused: nothing verifies
      case 'transfer':
      case 'chunk':
      case 'credit':
      case 'abort': {
        const terms = this.writer.transferTerms;
        if (terms !== undefined) {
          const pending = transferFrame(this, frame, this.writer.transfersNow(terms));
          this.writer.settleTransfers(); // the last credit of the server's transfers: nothing runs any more
          return pending;
        }
        this.writer.error(ErrorCode.UnexpectedFrame, `${frame.type} needs protocol v2 (chunked transfers), and this socket speaks v${this.version}`);
        return undefined;
      }
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
      this.writer.agreed = this.host.agreements.of(limits, version === TRANSFER_VERSION);
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
    if (session.id !== this.identity.session) this.identity = { ...this.identity, session: session.id };
    this.receipted = session.received;
    this.writer.frame({
      type: 'welcome',
      version: this.version,
      session: session.id,
      heartbeat: this.host.heartbeatInterval,
      ...(named ? { resumed } : {}),
      received: session.received,
      limits: this.version === TRANSFER_VERSION ? { ...this.host.announced, ...announcedTransfers(this.host.limits) } : this.host.announced,
      ...this.expiresIn(),
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

  holdRequest(): Hold | undefined {
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
    if (this.state === 'open') this.writer.send(channel, data);
  }

  // ---- chunked transfers (v2) -----------------------------------------------------------

  /** {@link PieceSocket}: the client sent past its window. */
  violated(message: string): void {
    this.writer.error(ErrorCode.FlowControl, message);
    this.close(CloseCode.PolicyViolation, 'flow control window exceeded');
  }

  // ---- internals ---------------------------------------------------------------------

  /** {@link CredentialsOwner}: the principal changed; every joined channel is authorized again. */
  reauthorize(): Promise<void> | undefined {
    return this.channels?.reauthorize();
  }

  /** {@link ReservedSocket}: where tickets for the SSE and long-poll endpoints come from. */
  get tickets(): TicketStore<P> {
    return this.host.tickets;
  }

  /** The welcome's `expiresIn`, when the credentials expire. */
  private expiresIn(): { expiresIn?: number } {
    const expiresIn = this.credentials?.expiresIn(Date.now());
    return expiresIn === undefined ? {} : { expiresIn };
  }

  /** Nothing more goes out or comes in; the socket leaves its channels. */
  private release(): void {
    this.credentials?.clear();
    this.host.backlog.forget(this);
    this.writer.drop();
    this.writer.transfers?.clear();
    this.welcomeHold?.release();
    this.welcomeHold = undefined;
    this.inbox.clear();
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

/**
 * `now` in whole ms since `epoch`. `Math.floor` makes it a small integer
 * (a Smi, up to 24 days of uptime) that V8 keeps in the field itself; the
 * plain difference of two timestamps is a double, stored as a 16 B heap number.
 */
function sinceEpoch(now: number, epoch: number): number {
  return Math.floor(now - epoch);
}
