/**
 * One WebSocket connection's protocol state machine. It knows nothing about
 * `ws`: the adapter feeds it messages and gives it a {@link Transport}.
 *
 * ```
 *   socket open ──▶ awaiting-hello ──hello──▶ open ──close()──▶ closing ──▶ closed
 *                        │  (other frames: error UNEXPECTED_FRAME)          ▲
 *                        └──────────────── transport closed ────────────────┘
 * ```
 *
 * What must outlive the socket (the session id, handled message ids, running
 * requests) lives in a {@link SessionMemory} that `hello` attaches: a new one,
 * or the detached one the hello names (resume).
 *
 * Outgoing text envelopes queued during one turn of the event loop leave in
 * one WebSocket message (a batch); the host schedules the flush.
 */
import {
  decode,
  encodeBatch,
  encodeBinary,
  encodeText,
  ErrorCode,
  CloseCode,
  channelIdProblem,
  PROTOCOL_VERSION,
  type Frame,
  type HelloFrame,
  type JsonValue,
  type MessageFrame,
  type Payload,
  type PeerLimits,
  type RequestFrame,
  type ServerFrame,
  type ServerLimits,
  type SubscribeFrame,
  fullBucket,
  takeTokens,
  type BucketRate,
  type BucketState,
} from '@rxmux/core/protocol';
import type { Awaitable, EnginePublication, HistoryResult } from './engines/engine.js';
import { OutgoingPublication, type Subscriber } from './hub.js';
import type { Limits } from './limits.js';
import { PendingRequest, type Attachment, type SessionMemory } from './resume.js';
import type { ChannelAction, ChannelContext, ChannelHandler, ConnectionInfo, RequestContext, RequestResult } from './types.js';

/** What a session needs from its socket. The ws adapter implements it. */
export interface Transport {
  /** Sends a text (`binary` false) or binary message. */
  send(data: string | Uint8Array, binary: boolean): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
  /** Starts the close handshake. */
  close(code: number, reason: string): void;
  /** Destroys the socket at once. */
  terminate(): void;
  /** Sends a transport-level ping. */
  ping(): void;
}

/** What a session needs from its server. */
export interface SessionHost<P> {
  readonly limits: Limits;
  /** The per-connection token bucket's rate (from `limits`). */
  readonly rate: BucketRate;
  /** What `welcome` announces: the decode limits and the rate the client must keep. */
  readonly announced: ServerLimits;
  readonly heartbeatInterval: number;
  resolve(channel: string): ChannelHandler<P> | undefined;
  /** Never rejects: a throwing or rejecting authorize counts as a refusal (and is reported). */
  authorize(principal: P, channel: string, action: ChannelAction): boolean | Promise<boolean>;
  publish(channel: string, data: Payload): void;
  subscribe(session: Session<P>, channel: string): void;
  unsubscribe(session: Session<P>, channel: string): void;
  /** The engine's history of `channel` after `since` (at most `limit` publications), its epoch and newest seq. */
  history(channel: string, since: number, limit: number): Awaitable<HistoryResult>;
  /** A hello arrived: resume the session it names, or start a new one. */
  attach(session: Session<P>, name: string | undefined): { memory: SessionMemory<P>; resumed: boolean };
  /** The welcome went out: the session (new or resumed) is open on this socket. */
  opened(session: Session<P>, resumed: boolean): void;
  /** Calls `session.flush()` later in this turn of the event loop (once per turn). */
  scheduleFlush(session: Session<P>): void;
  /** Calls `session.sendReceipt()` within a short delay (receipts ride with other writes when there are any). */
  receiptDue(session: Session<P>): void;
  /** Counts one WebSocket message of `frames` envelopes and `bytes` bytes. */
  count(direction: 'in' | 'out', frames: number, bytes: number): void;
  /** The connection sent more than its rate allows; it is being closed with 1008. */
  rateLimited(session: Session<P>): void;
  slowConsumer(session: Session<P>, buffered: number): void;
  closed(session: Session<P>, code: number, reason: string): void;
  error(error: unknown, session?: Session<P>): void;
}

/** The protocol states of a session. */
export type SessionState = 'awaiting-hello' | 'open' | 'closing' | 'closed';

/** Most error frames sent in answer to one incoming message (a bad batch yields one per envelope). */
const MAX_ERRORS_PER_MESSAGE = 16;

/** Longest error message text sent (the codec caps strings at 4096). */
const MAX_MESSAGE = 1000;

/**
 * A receipt rides with whatever the server writes next; it goes out on its
 * own once this many messages are unreceipted, or after the host's short
 * delay (`receiptDue`), whichever comes first.
 */
const RECEIPT_EVERY = 16;

/** The smallest frame size a client may ask for in `hello.limits` (a hostile tiny value only hurts itself, but stays sane). */
const MIN_PEER_FRAME_BYTES = 1024;

const utf8Length = (data: string | Uint8Array): number => (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);

/** Why a thrown value becomes a request-error: its own string `code`, or a generic one. */
function failureOf(error: unknown): { code: string; message: string } {
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    const message = (error as { message?: unknown }).message;
    return { code: (error as { code: string }).code, message: typeof message === 'string' ? message : 'request failed' };
  }
  return { code: ErrorCode.Remote, message: 'the handler failed' };
}

/**
 * Where this socket stands in one joined channel: the epoch and the last seq
 * sent, and, while the history is being read (an asynchronous engine), the
 * live publications held back until the replay is written.
 */
interface Position {
  epoch: string;
  seq: number;
  held: OutgoingPublication[] | undefined;
}

/** Runs `then` on a value now, or on a promise once it resolves (no extra turn for synchronous engines). */
function after<T>(value: Awaitable<T>, then: (value: T) => void, failed: (error: unknown) => void): Promise<void> | undefined {
  if (value instanceof Promise) return value.then(then, failed);
  then(value);
  return undefined;
}

/** One connection's protocol state. Kept small: an idle session is a handful of fields. */
export class Session<P> implements Subscriber, Attachment {
  state: SessionState = 'awaiting-hello';
  /** When the peer was last heard from (any message, pong). */
  lastSeen: number;
  private readonly createdAt: number;
  private channels: Map<string, Position> | undefined;
  private queue: (string | OutgoingPublication)[] | undefined;
  /** Frames waiting while an asynchronous authorize runs, so frames keep their order. */
  private inbox: Frame[] | undefined;
  /** What outlives this socket; set by hello. */
  private memory: SessionMemory<P> | undefined;
  private sessionId: string;
  private readonly bucket: BucketState;
  /** What the client accepts (from hello), within the server's own limits. */
  private peer: PeerLimits;
  /** The `received` count of the last receipt (or welcome) this socket sent. */
  private receipted = 0;
  /** The close code and reason the server chose, reported by `onClose` instead of what the socket saw (1006 when the peer never answered). */
  private closedWith: { readonly code: number; readonly reason: string } | undefined;

  constructor(
    private readonly host: SessionHost<P>,
    private readonly transport: Transport,
    /** A provisional id until hello attaches a session (new or resumed). */
    id: string,
    readonly principal: P,
    now: number,
  ) {
    this.sessionId = id;
    this.lastSeen = now;
    this.createdAt = now;
    this.bucket = fullBucket(host.rate, now);
    this.peer = host.limits;
  }

  /** The session id: the one `welcome` announced (after hello), provisional before. */
  get id(): string {
    return this.sessionId;
  }

  /** Hook info for this session. */
  get info(): ConnectionInfo<P> {
    return { session: this.id, principal: this.principal, transport: 'ws' };
  }

  /** A WebSocket message arrived (text as string, binary as bytes). */
  receive(data: string | Uint8Array, now: number): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.lastSeen = now;
    const { frames, errors } = decode(data, this.host.limits);
    const count = frames.length + errors.length;
    this.host.count('in', count, utf8Length(data));
    if (!takeTokens(this.bucket, Math.max(1, count), now, this.host.rate)) {
      this.rateLimited(count);
      return;
    }
    for (const error of errors.slice(0, MAX_ERRORS_PER_MESSAGE)) this.sendError(error.code, error.message, error.channel);
    if (frames.length > 0) this.process(frames);
  }

  /** The peer answered a transport ping. */
  touch(now: number): void {
    this.lastSeen = now;
  }

  /** Heartbeat tick: terminate if silent too long, otherwise ping (protocol + transport). */
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
    this.sendFrame({ type: 'ping', t: now });
    this.sendReceipt();
    this.guard(() => this.transport.ping());
  }

  /**
   * Delivers a publication of a channel this session subscribed to, in seq
   * order: held while the channel's replay is prepared, dropped when the
   * replay already carried it, announced by a `gap` when its epoch is new.
   */
  deliver(publication: OutgoingPublication): void {
    if (this.state !== 'open') return;
    const pos = this.channels?.get(publication.channel);
    if (pos === undefined) return;
    if (pos.held !== undefined) {
      pos.held.push(publication);
      return;
    }
    const { epoch, seq } = publication.publication;
    if (epoch === pos.epoch) {
      if (seq <= pos.seq) return; // the replay carried it already
    } else {
      // The engine started a new history under us (it forgot the channel): say so before going on.
      this.sendFrame({ type: 'gap', channel: publication.channel, epoch, seq: seq - 1, reason: 'epoch', since: pos.seq });
      pos.epoch = epoch;
    }
    pos.seq = seq;
    this.sendPublication(publication);
  }

  /**
   * Writes one sequenced publication (live or replayed). One larger than this
   * client accepts would be dropped by its decoder and its seq missed: it gets
   * a `gap` `'too-big'` for that seq instead.
   */
  private sendPublication(out: OutgoingPublication): void {
    if (this.peer.maxFrameBytes < this.host.limits.maxFrameBytes && out.size > this.peer.maxFrameBytes) {
      const { channel, epoch, seq } = out.publication;
      this.sendFrame({ type: 'gap', channel, epoch, seq, reason: 'too-big', since: seq - 1 });
    } else if (out.isBinary) this.sendBinary(out.binary);
    else if (out.text.length > 0) this.queueOut(out); // encoded now, so a failure stays in the caller's guard
  }

  /** {@link Attachment}: an answer of the session (ack, response) for this socket. */
  enqueue(envelope: string): void {
    this.queueOut(envelope);
  }

  /** {@link Attachment}: a resuming hello on another socket took this session over. */
  superseded(): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.queue = undefined;
    this.inbox = undefined;
    // The session lives on in the socket that took it over. This one leaves its channels now,
    // as any socket does (presence leave, onUnsubscribe), before the new socket's subscribes are
    // read: channels the client gave up during the outage must not keep a member, and the ones
    // it re-joins get leave then join. Its close event comes later and finds nothing to leave.
    const channels = this.channels;
    this.channels = undefined;
    for (const channel of channels?.keys() ?? []) this.leave(channel);
    this.closedWith = { code: CloseCode.Abnormal, reason: 'superseded by a resuming socket' };
    this.guard(() => this.transport.terminate());
  }

  /**
   * Sends whatever was queued as one WebSocket message (a batch), split only
   * where the peer's decode limits require it: at most `maxBatch` envelopes
   * and about `maxFrameBytes` per message. Called by the host's scheduler.
   */
  flush(): void {
    let queue = this.queue;
    this.queue = undefined;
    if (this.state === 'closed') return;
    const receipt = this.receiptDue();
    if (receipt !== undefined) (queue ??= []).push(receipt);
    if (queue === undefined || queue.length === 0) return;
    const only = queue.length === 1 ? queue[0] : undefined;
    if (only !== undefined && typeof only !== 'string') {
      // A lone publication goes out from its shared buffer: serialized once for every recipient.
      this.write(only.textBytes, false, 1);
      return;
    }
    const { maxBatch, maxFrameBytes } = this.peer;
    let batch: string[] = [];
    let size = 2;
    for (const entry of queue) {
      const text = typeof entry === 'string' ? entry : entry.text;
      if (batch.length > 0 && (batch.length >= maxBatch || size + text.length + 1 > maxFrameBytes)) {
        this.write(encodeBatch(batch), false, batch.length);
        if (!this.writable()) return; // dropped as a slow consumer
        batch = [];
        size = 2;
      }
      batch.push(text);
      size += text.length + 1;
    }
    this.write(encodeBatch(batch), false, batch.length);
  }

  /** Starts closing: flushes what is queued, then the close handshake. */
  close(code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.flush();
    this.state = 'closing';
    this.closedWith = { code, reason };
    this.guard(() => this.transport.close(code, reason));
  }

  /** Destroys the socket at once (shutdown grace period over). */
  abort(): void {
    this.guard(() => this.transport.terminate());
  }

  /**
   * The socket is gone: leave every channel (a resuming client re-joins with
   * its positions). Running handlers go on; their answers wait in the session
   * for a resume, which the host decides on.
   */
  closed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.queue = undefined;
    this.inbox = undefined;
    for (const channel of this.channels?.keys() ?? []) this.leave(channel);
    this.channels = undefined;
    // The code the server chose, when it chose one: a peer that never answered the close frame shows as 1006.
    this.host.closed(this, this.closedWith?.code ?? code, this.closedWith?.reason ?? reason);
  }

  /** The session memory this socket is attached to (after hello). */
  get attachedTo(): SessionMemory<P> | undefined {
    return this.memory;
  }

  // ---- incoming ----------------------------------------------------------

  /**
   * The connection sent more than its announced rate allows. Nothing of the
   * message runs, and the socket is closed: dropping it and going on would
   * lose frames silently (a subscribe, a message whose receipt count the
   * client relies on). A resuming client re-sends what was not received.
   */
  private rateLimited(envelopes: number): void {
    this.host.rateLimited(this);
    const { rate, burst } = this.host.announced;
    this.sendError(ErrorCode.RateLimited, `${envelopes} envelope(s) over the rate limit (${rate}/s, burst ${burst}): closing`);
    this.close(CloseCode.PolicyViolation, 'rate limit exceeded');
  }

  /** Handles frames in order; an asynchronous step parks the rest in the inbox until it settles. */
  private process(frames: readonly Frame[]): void {
    if (this.inbox !== undefined) {
      this.inbox.push(...frames);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      const pending = this.handle(frames[i] as Frame);
      if (pending !== undefined) {
        this.inbox = frames.slice(i + 1);
        const resume = (): void => {
          const rest = this.inbox;
          this.inbox = undefined;
          if (rest !== undefined && rest.length > 0 && this.state === 'open') this.process(rest);
        };
        // A step that fails must neither stay unhandled nor leave the frames behind it parked forever.
        void pending.then(resume, (error: unknown) => {
          this.host.error(error, this);
          resume();
        });
        return;
      }
    }
  }

  private handle(frame: Frame): Promise<void> | undefined {
    if (frame.type === 'hello') return this.hello(frame);
    if (frame.type === 'pong') return undefined; // allowed in any state (PROTOCOL.md 6.1); lastSeen is already updated
    if (this.state !== 'open') {
      // PROTOCOL.md 5.2: hello first. Retrying cannot help a client that does not speak the protocol.
      this.sendError(ErrorCode.UnexpectedFrame, `${frame.type} before hello: the first frame must be hello`);
      this.close(CloseCode.BadRequest, 'hello expected');
      return undefined;
    }
    switch (frame.type) {
      case 'ping':
        this.sendFrame(frame.t === undefined ? { type: 'pong' } : { type: 'pong', t: frame.t });
        return undefined;
      case 'subscribe':
        return this.subscribe(frame);
      case 'unsubscribe':
        if (this.channels?.delete(frame.channel)) this.leave(frame.channel);
        return undefined;
      case 'message':
        return this.message(frame);
      case 'request':
        return this.request(frame);
      case 'cancel': {
        // Unknown ids are ignored: the response may simply have crossed the cancel.
        const requests = this.memory?.requests;
        const pending = requests?.get(frame.id);
        requests?.delete(frame.id);
        pending?.abort();
        return undefined;
      }
      default:
        this.sendError(ErrorCode.UnexpectedFrame, `${frame.type} is not a frame a client may send`);
        return undefined;
    }
  }

  private hello({ version, session, limits }: HelloFrame): undefined {
    if (this.state !== 'awaiting-hello') {
      this.sendError(ErrorCode.UnexpectedFrame, 'hello was already received on this socket');
      return undefined;
    }
    if (version !== PROTOCOL_VERSION) {
      this.sendError(ErrorCode.UnsupportedProtocol, `protocol version ${version} is not supported (server speaks ${PROTOCOL_VERSION})`);
      this.close(CloseCode.UnsupportedProtocol, 'unsupported protocol version');
      return undefined;
    }
    this.state = 'open';
    if (limits !== undefined) {
      const own = this.host.limits;
      this.peer = {
        maxFrameBytes: Math.max(MIN_PEER_FRAME_BYTES, Math.min(own.maxFrameBytes, limits.maxFrameBytes)),
        maxBatch: Math.min(own.maxBatch, limits.maxBatch),
      };
    }
    const { memory, resumed } = this.host.attach(this, session);
    this.memory = memory;
    this.sessionId = memory.id;
    this.receipted = memory.received;
    this.sendFrame({
      type: 'welcome',
      version: PROTOCOL_VERSION,
      session: memory.id,
      heartbeat: this.host.heartbeatInterval,
      ...(session === undefined ? {} : { resumed }),
      received: memory.received,
      limits: this.host.announced,
    });
    this.host.opened(this, resumed);
    // Answers that completed while the session was detached follow the welcome.
    for (const envelope of memory.drain()) this.queueOut(envelope);
    return undefined;
  }

  /**
   * Joins a channel. The hub gets the subscriber first, then the history is
   * read: live publications that race the read are held and dropped by seq
   * when the replay carried them, so nothing is lost or doubled.
   *
   * - no `since`: `subscribed {epoch, seq: newest}`, then live;
   * - `since` in the current epoch and covered by the history:
   *   `subscribed {epoch, seq: newest}`, the publications (since, newest], then live;
   * - otherwise: `gap {epoch, seq: newest, reason, since}`, `subscribed`, then live.
   */
  private subscribe(frame: SubscribeFrame): Promise<void> | undefined {
    const { channel } = frame;
    const joined = this.channels?.get(channel);
    if (joined !== undefined) {
      // Already joined on this socket: live delivery is running, nothing to replay.
      this.sendFrame({ type: 'subscribed', channel, epoch: joined.epoch, seq: joined.seq });
      return undefined;
    }
    if (!this.hasRoomFor(channel)) return undefined;
    let replay: Promise<void> | undefined;
    const authorized = this.afterAuthorize(channel, 'subscribe', () => {
      const again = this.channels?.get(channel);
      if (again !== undefined) return this.sendFrame({ type: 'subscribed', channel, epoch: again.epoch, seq: again.seq });
      if (!this.hasRoomFor(channel)) return;
      const pos: Position = { epoch: '', seq: 0, held: [] };
      (this.channels ??= new Map()).set(channel, pos);
      this.host.subscribe(this, channel);
      const since = frame.since;
      let history: Awaitable<HistoryResult>;
      try {
        history = this.host.history(channel, since ?? 0, since === undefined ? 0 : this.host.limits.historySize);
      } catch (error) {
        return this.historyFailed(channel, pos, error);
      }
      replay = after(history, (h) => this.joined(channel, pos, h, frame), (error) => this.historyFailed(channel, pos, error));
    }, () => this.sendError(ErrorCode.Forbidden, `not allowed to subscribe to ${channel}`, channel));
    if (authorized === undefined) return replay;
    return authorized.then(() => replay);
  }

  /** The history arrived: announce the position, replay or report the gap, then release what was held. */
  private joined(channel: string, pos: Position, history: HistoryResult, { since, epoch }: SubscribeFrame): void {
    if (this.channels?.get(channel) !== pos || this.state !== 'open') return; // left (or closed) meanwhile
    const { last } = history;
    pos.epoch = history.epoch;
    pos.seq = last;
    const subscribed = { type: 'subscribed', channel, epoch: history.epoch, seq: last } as const;
    if (since === undefined) {
      this.sendFrame(subscribed);
    } else if (epoch === history.epoch && history.complete && since <= last) {
      this.sendFrame(subscribed);
      for (const p of history.publications) this.replayOne(p);
    } else {
      const reason = epoch === history.epoch ? 'history' : 'epoch';
      this.sendFrame({ type: 'gap', channel, epoch: history.epoch, seq: last, reason, since });
      this.sendFrame(subscribed);
    }
    const held = pos.held ?? [];
    pos.held = undefined;
    for (const publication of held) this.guard(() => this.deliver(publication)); // one bad publication costs only itself
    const handler = this.host.resolve(channel);
    if (handler?.onSubscribe !== undefined) this.guard(() => handler.onSubscribe?.(this.context(channel)));
  }

  private replayOne(publication: EnginePublication): void {
    // Through the same object as live delivery: one encoding, one size rule (a gap 'too-big' for a frame the client refuses).
    const out = new OutgoingPublication(publication);
    if (this.peer.maxFrameBytes < this.host.limits.maxFrameBytes && out.size > this.peer.maxFrameBytes) {
      const { channel, epoch, seq } = publication;
      this.sendFrame({ type: 'gap', channel, epoch, seq, reason: 'too-big', since: seq - 1 });
    } else if (out.isBinary) this.sendBinary(out.binary);
    else this.queueOut(out.text);
  }

  /** The engine could not read the history: the join fails like a refusal, the channel is left. */
  private historyFailed(channel: string, pos: Position, error: unknown): void {
    this.host.error(error, this);
    if (this.channels?.get(channel) !== pos) return;
    this.channels.delete(channel);
    this.host.unsubscribe(this, channel);
    this.sendError(ErrorCode.Remote, `history of ${channel} is unavailable`, channel);
  }

  private hasRoomFor(channel: string): boolean {
    const max = this.host.limits.maxChannelsPerConnection;
    if ((this.channels?.size ?? 0) < max) return true;
    this.sendError(ErrorCode.TooManyChannels, `at most ${max} channels per connection`, channel);
    return false;
  }

  private leave(channel: string): void {
    this.host.unsubscribe(this, channel);
    const handler = this.host.resolve(channel);
    if (handler?.onUnsubscribe !== undefined) this.guard(() => handler.onUnsubscribe?.(this.context(channel)));
  }

  /**
   * A client message. With an `id` it is handled at most once per session
   * (within `limits.dedupeWindow` ids): a duplicate of a handled message gets
   * the same answer again without running the handler, a duplicate of one
   * whose handler still runs gets nothing now (the answer follows when it
   * finishes). The answer, `ack` or `error {id}`, goes out after the handler
   * ran (async handlers: after the promise settled), to whichever socket the
   * session is attached to by then.
   */
  private message(frame: MessageFrame): Promise<void> | undefined {
    const { channel, id } = frame;
    // authorize before anything else: a "no handler" answer to an unauthorized client would tell it which channels exist.
    return this.afterAuthorize(channel, 'publish', () => {
      this.taken();
      const handler = this.host.resolve(channel);
      const onMessage = handler?.onMessage;
      if (onMessage === undefined) return this.sendError(ErrorCode.NoHandler, `no handler for messages on ${channel}`, channel, id);
      const memory = this.memory;
      if (id !== undefined && memory !== undefined) {
        const seen = memory.message(id);
        if (seen === 'running') return; // answered when its handler finishes
        if (seen !== undefined) return this.queueOut(seen.answer); // handled already: same answer, nothing runs
        memory.started(id);
      }
      const ctx = { ...this.context(channel), id };
      const answer = (envelope: string | undefined): void => {
        if (id === undefined || envelope === undefined) return;
        if (memory !== undefined) memory.finished(id, envelope);
        else this.queueOut(envelope);
      };
      const done = (): void => answer(id === undefined ? undefined : encodeText({ type: 'ack', id }));
      const failed = (error: unknown): void => {
        this.host.error(error, this);
        if (id === undefined) return this.sendError(ErrorCode.Remote, 'the message handler failed', channel);
        answer(encodeText({ type: 'error', code: ErrorCode.Remote, message: 'the message handler failed', channel, id }));
      };
      try {
        const result = onMessage.call(handler, ctx, frame.data);
        if (result instanceof Promise) result.then(done, failed);
        else done();
      } catch (error) {
        failed(error);
      }
    }, () => {
      this.taken();
      this.sendError(ErrorCode.Forbidden, `not allowed to publish to ${channel}`, channel, id);
    });
  }

  /**
   * One `message` envelope of the session was taken (handled, refused or
   * recognised as a duplicate): the cumulative count the receipts carry. A
   * message whose socket went away before this point is not counted, so the
   * client re-sends it.
   */
  private taken(): void {
    const memory = this.memory;
    if (memory === undefined) return;
    memory.received++;
    const unreceipted = memory.received - this.receipted;
    if (unreceipted >= RECEIPT_EVERY) this.sendReceipt();
    else if (unreceipted === 1) this.host.receiptDue(this);
  }

  /** Makes sure a flush runs this turn when a receipt is owed (the flush appends it). */
  sendReceipt(): void {
    if (!this.writable() || this.queue !== undefined || this.memory === undefined || this.memory.received === this.receipted) return;
    this.queue = [];
    this.host.scheduleFlush(this);
  }

  /** The receipt envelope to send with this flush, if the count moved since the last one. */
  private receiptDue(): string | undefined {
    const received = this.memory?.received;
    if (received === undefined || received === this.receipted || !this.writable()) return undefined;
    this.receipted = received;
    return encodeText({ type: 'receipt', received });
  }

  /**
   * A request. A re-sent request id is not run twice: while its handler runs
   * the duplicate is ignored (one answer follows), once answered the
   * remembered reply is sent again (within `limits.replyCacheSize`).
   */
  private request(frame: RequestFrame): Promise<void> | undefined {
    const { channel, id } = frame;
    const memory = this.memory;
    if (memory === undefined) return undefined; // cannot happen: requests are only handled after hello
    if (memory.requests.has(id)) return undefined; // still running: its answer follows
    const cached = memory.reply(id);
    if (cached !== undefined) {
      this.queueOut(cached);
      return undefined;
    }
    const pending = new PendingRequest();
    memory.requests.set(id, pending);
    return this.afterAuthorize(channel, 'publish', () => {
      if (pending.aborted) return; // cancelled while authorize ran
      const handler = this.host.resolve(channel);
      const onRequest = handler?.onRequest;
      if (onRequest === undefined) {
        memory.requests.delete(id);
        this.sendFrame({ type: 'request-error', id, code: ErrorCode.NoHandler, message: `no request handler on ${channel}` });
        return;
      }
      let settled = false;
      const settle = (frame: ServerFrame): void => {
        if (settled) return;
        settled = true;
        if (pending.aborted || memory.requests.get(id) !== pending) return; // cancelled: no answer
        let envelope: string;
        try {
          envelope = encodeText(frame);
        } catch (error) {
          this.host.error(error, this);
          envelope = encodeText({ type: 'request-error', id, code: ErrorCode.Remote, message: 'the reply could not be encoded' });
        }
        memory.replied(id, envelope);
      };
      const reply = (data: JsonValue): void => settle({ type: 'response', id, data });
      const fail = (code: string, message: string): void => settle({ type: 'request-error', id, code, message });
      const failed = (error: unknown): void => {
        if (!pending.aborted) this.host.error(error, this);
        const { code, message } = failureOf(error);
        fail(code, message);
      };
      const returned = (value: RequestResult): void => reply(value === undefined ? null : value);
      const ctx: RequestContext<P> = {
        ...this.context(channel),
        id,
        get signal() {
          return pending.signal;
        },
        reply,
        fail,
      };
      try {
        const result = onRequest.call(handler, ctx, frame.data);
        if (result instanceof Promise) result.then(returned, failed);
        else returned(result);
      } catch (error) {
        failed(error);
      }
    }, () => {
      memory.requests.delete(id);
      this.sendFrame({ type: 'request-error', id, code: ErrorCode.Forbidden, message: `not allowed to send requests to ${channel}` });
    }, () => {
      // The socket went away while authorize ran: forget the request, so the client's re-send runs it.
      if (memory.requests.get(id) === pending) memory.requests.delete(id);
    });
  }

  /** Runs `allowed` or `refused` after authorize; returns a promise only when authorize is asynchronous. */
  private afterAuthorize(
    channel: string,
    action: ChannelAction,
    allowed: () => void,
    refused: () => void,
    gone?: () => void,
  ): Promise<void> | undefined {
    const verdict = this.host.authorize(this.principal, channel, action);
    const decide = (ok: boolean): void => {
      if (this.state !== 'open') {
        gone?.();
        return;
      }
      if (ok) allowed();
      else refused();
    };
    if (typeof verdict === 'boolean') {
      decide(verdict);
      return undefined;
    }
    return verdict.then(decide);
  }

  private context(channel: string): ChannelContext<P> {
    return {
      channel,
      session: this.id,
      principal: this.principal,
      publish: (data) => this.host.publish(channel, data),
      send: (data) => {
        if (this.state !== 'open') return;
        if (data instanceof Uint8Array) this.sendBinary(encodeBinary({ type: 'publication', channel, data }));
        else this.sendFrame({ type: 'publication', channel, data });
      },
    };
  }

  // ---- outgoing ----------------------------------------------------------

  /** Queues a frame; returns false (and reports) when it cannot be encoded, e.g. a reply that is not JSON. */
  private sendFrame(frame: ServerFrame): boolean {
    let envelope: string;
    try {
      envelope = encodeText(frame);
    } catch (error) {
      this.host.error(error, this);
      return false;
    }
    this.queueOut(envelope);
    return true;
  }

  /** An error frame; with the `id` of the client message it refuses, so only that message's ack fails. */
  private sendError(code: string, message: string, channel?: string, id?: number): void {
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message;
    // A codec error may name a channel that is itself invalid (empty, too long): then it is left out.
    const valid = channel !== undefined && channelIdProblem(channel) === undefined;
    this.sendFrame({ type: 'error', code, message: text, ...(valid ? { channel } : {}), ...(id === undefined ? {} : { id }) });
  }

  /** Whether frames may still be queued (not closing or closed). */
  private writable(): boolean {
    return this.state === 'open' || this.state === 'awaiting-hello';
  }

  private queueOut(envelope: string | OutgoingPublication): void {
    if (!this.writable()) return;
    if (this.queue === undefined) {
      this.queue = [envelope];
      this.host.scheduleFlush(this);
    } else {
      this.queue.push(envelope);
    }
  }

  /** Binary frames cannot join a batch: flush the text queue first to keep order. */
  private sendBinary(bytes: Uint8Array): void {
    this.flush();
    this.write(bytes, true, 1);
  }

  private write(message: string | Uint8Array, binary: boolean, frames: number): void {
    if (this.state === 'closed') return;
    try {
      this.transport.send(message, binary); // not through guard(): no closure per write on the fan-out path
    } catch (error) {
      this.host.error(error, this);
    }
    this.host.count('out', frames, utf8Length(message));
    const buffered = this.transport.bufferedAmount;
    if (buffered > this.host.limits.slowConsumerBytes && this.state === 'open') {
      this.host.slowConsumer(this, buffered);
      this.close(CloseCode.PolicyViolation, 'slow consumer');
    }
  }

  private guard(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.host.error(error, this);
    }
  }
}
