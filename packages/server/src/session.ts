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
  type JsonValue,
  type MessageFrame,
  type Payload,
  type RequestFrame,
  type ServerFrame,
} from '@rxmux/core/protocol';
import type { OutgoingPublication, Subscriber } from './hub.js';
import { takeTokens, type BucketState, type Limits } from './limits.js';
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
  readonly heartbeatInterval: number;
  resolve(channel: string): ChannelHandler<P> | undefined;
  /** Never rejects: a throwing or rejecting authorize counts as a refusal (and is reported). */
  authorize(principal: P, channel: string, action: ChannelAction): boolean | Promise<boolean>;
  publish(channel: string, data: Payload): void;
  subscribe(session: Session<P>, channel: string): void;
  unsubscribe(session: Session<P>, channel: string): void;
  /**
   * Whether a client message id was already handled (effectively-once delivery,
   * the delivery extension). The server answers false until that lands.
   */
  isDuplicate(session: Session<P>, channel: string, id: number): boolean;
  /** Calls `session.flush()` later in this turn of the event loop (once per turn). */
  scheduleFlush(session: Session<P>): void;
  /** Counts one WebSocket message of `frames` envelopes and `bytes` bytes. */
  count(direction: 'in' | 'out', frames: number, bytes: number): void;
  rateLimited(session: Session<P>, first: boolean): void;
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

const utf8Length = (data: string | Uint8Array): number => (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);

/** Why a thrown value becomes a request-error: its own string `code`, or a generic one. */
function failureOf(error: unknown): { code: string; message: string } {
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    const message = (error as { message?: unknown }).message;
    return { code: (error as { code: string }).code, message: typeof message === 'string' ? message : 'request failed' };
  }
  return { code: ErrorCode.Remote, message: 'the handler failed' };
}

/** One connection's protocol state. Kept small: an idle session is a handful of fields. */
export class Session<P> implements Subscriber {
  state: SessionState = 'awaiting-hello';
  /** When the peer was last heard from (any message, pong). */
  lastSeen: number;
  private readonly createdAt: number;
  private channels: Set<string> | undefined;
  private queue: (string | OutgoingPublication)[] | undefined;
  /** Frames waiting while an asynchronous authorize runs, so frames keep their order. */
  private inbox: Frame[] | undefined;
  private inflight: Map<number, AbortController> | undefined;
  private readonly bucket: BucketState;
  /** Frames dropped in a row by the rate limit. */
  private dropped = 0;

  constructor(
    private readonly host: SessionHost<P>,
    private readonly transport: Transport,
    readonly id: string,
    readonly principal: P,
    now: number,
  ) {
    this.lastSeen = now;
    this.createdAt = now;
    this.bucket = { tokens: host.limits.rateBurst, refilledAt: now };
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
    if (!takeTokens(this.bucket, Math.max(1, count), now, this.host.limits)) {
      this.rateLimited();
      return;
    }
    this.dropped = 0;
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
    this.guard(() => this.transport.ping());
  }

  /** Delivers a publication of a channel this session subscribed to. */
  deliver(publication: OutgoingPublication): void {
    if (this.state !== 'open') return;
    if (publication.isBinary) this.sendBinary(publication.binary);
    else if (publication.text.length > 0) this.enqueue(publication); // encoded now, so a failure stays in the hub's guard
  }

  /**
   * Sends whatever was queued as one WebSocket message (a batch), split only
   * where the peer's decode limits require it: at most `maxBatch` envelopes
   * and about `maxFrameBytes` per message. Called by the host's scheduler.
   */
  flush(): void {
    const queue = this.queue;
    this.queue = undefined;
    if (queue === undefined || queue.length === 0 || this.state === 'closed') return;
    const only = queue.length === 1 ? queue[0] : undefined;
    if (only !== undefined && typeof only !== 'string') {
      // A lone publication goes out from its shared buffer: serialized once for every recipient.
      this.write(only.textBytes, false, 1);
      return;
    }
    const { maxBatch, maxFrameBytes } = this.host.limits;
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
    this.guard(() => this.transport.close(code, reason));
  }

  /** Destroys the socket at once (shutdown grace period over). */
  abort(): void {
    this.guard(() => this.transport.terminate());
  }

  /** The socket is gone: leave every channel, abort pending requests. */
  closed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.queue = undefined;
    this.inbox = undefined;
    for (const controller of this.inflight?.values() ?? []) controller.abort();
    this.inflight = undefined;
    for (const channel of this.channels ?? []) this.leave(channel);
    this.channels = undefined;
    this.host.closed(this, code, reason);
  }

  // ---- incoming ----------------------------------------------------------

  private rateLimited(): void {
    this.dropped++;
    this.host.rateLimited(this, this.dropped === 1);
    if (this.dropped === 1) this.sendError(ErrorCode.RateLimited, 'too many frames: this frame was dropped');
    if (this.dropped >= this.host.limits.rateLimitCloseAfter) this.close(CloseCode.PolicyViolation, 'rate limit exceeded');
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
        void pending.then(() => {
          const rest = this.inbox;
          this.inbox = undefined;
          if (rest !== undefined && rest.length > 0 && this.state === 'open') this.process(rest);
        });
        return;
      }
    }
  }

  private handle(frame: Frame): Promise<void> | undefined {
    if (frame.type === 'hello') return this.hello(frame.version);
    if (frame.type === 'pong') return undefined; // allowed in any state (PROTOCOL.md 6.1); lastSeen is already updated
    if (this.state !== 'open') {
      this.sendError(ErrorCode.UnexpectedFrame, `${frame.type} before hello: the first frame must be hello`);
      return undefined;
    }
    switch (frame.type) {
      case 'ping':
        this.sendFrame(frame.t === undefined ? { type: 'pong' } : { type: 'pong', t: frame.t });
        return undefined;
      case 'subscribe':
        return this.subscribe(frame.channel);
      case 'unsubscribe':
        if (this.channels?.delete(frame.channel)) this.leave(frame.channel);
        return undefined;
      case 'message':
        return this.message(frame);
      case 'request':
        return this.request(frame);
      case 'cancel': {
        // Unknown ids are ignored: the response may simply have crossed the cancel.
        const controller = this.inflight?.get(frame.id);
        this.inflight?.delete(frame.id);
        controller?.abort();
        return undefined;
      }
      default:
        this.sendError(ErrorCode.UnexpectedFrame, `${frame.type} is not a frame a client may send`);
        return undefined;
    }
  }

  private hello(version: number): undefined {
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
    // Resume (hello.session / resumeToken) is the delivery extension's: every hello starts a fresh session for now.
    this.sendFrame({ type: 'welcome', version: PROTOCOL_VERSION, session: this.id, heartbeat: this.host.heartbeatInterval });
    return undefined;
  }

  private subscribe(channel: string): Promise<void> | undefined {
    if (this.channels?.has(channel)) {
      this.sendFrame({ type: 'subscribed', channel });
      return undefined;
    }
    if (!this.hasRoomFor(channel)) return undefined;
    return this.afterAuthorize(channel, 'subscribe', () => {
      if (this.channels?.has(channel)) return this.sendFrame({ type: 'subscribed', channel });
      if (!this.hasRoomFor(channel)) return;
      (this.channels ??= new Set()).add(channel);
      this.host.subscribe(this, channel);
      this.sendFrame({ type: 'subscribed', channel });
      const handler = this.host.resolve(channel);
      if (handler?.onSubscribe !== undefined) this.guard(() => handler.onSubscribe?.(this.context(channel)));
    }, () => this.sendError(ErrorCode.Forbidden, `not allowed to subscribe to ${channel}`, channel));
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

  private message(frame: MessageFrame): Promise<void> | undefined {
    const { channel, id } = frame;
    const handler = this.host.resolve(channel);
    const onMessage = handler?.onMessage;
    if (onMessage === undefined) {
      this.sendError(ErrorCode.NoHandler, `no handler for messages on ${channel}`, channel);
      return undefined;
    }
    return this.afterAuthorize(channel, 'publish', () => {
      if (id !== undefined && this.host.isDuplicate(this, channel, id)) {
        this.sendFrame({ type: 'ack', id }); // already handled: ack again, run nothing
        return;
      }
      const ctx = { ...this.context(channel), id };
      const done = (): void => {
        if (id !== undefined) this.sendFrame({ type: 'ack', id });
      };
      const failed = (error: unknown): void => {
        this.host.error(error, this);
        this.sendError(ErrorCode.Remote, 'the message handler failed', channel);
        done();
      };
      try {
        const result = onMessage.call(handler, ctx, frame.data);
        if (result instanceof Promise) result.then(done, failed);
        else done();
      } catch (error) {
        failed(error);
      }
    }, () => this.sendError(ErrorCode.Forbidden, `not allowed to publish to ${channel}`, channel));
  }

  private request(frame: RequestFrame): Promise<void> | undefined {
    const { channel, id } = frame;
    const handler = this.host.resolve(channel);
    const onRequest = handler?.onRequest;
    if (onRequest === undefined) {
      this.sendFrame({ type: 'request-error', id, code: ErrorCode.NoHandler, message: `no request handler on ${channel}` });
      return undefined;
    }
    if (this.inflight?.has(id)) {
      this.sendFrame({ type: 'request-error', id, code: ErrorCode.InvalidField, message: `request ${id} is already pending` });
      return undefined;
    }
    const controller = new AbortController();
    (this.inflight ??= new Map()).set(id, controller);
    return this.afterAuthorize(channel, 'publish', () => {
      let settled = false;
      const settle = (frame: ServerFrame): void => {
        if (settled) return;
        settled = true;
        if (controller.signal.aborted || this.inflight?.get(id) !== controller) return; // cancelled: no answer
        this.inflight.delete(id);
        if (!this.sendFrame(frame)) {
          this.sendFrame({ type: 'request-error', id, code: ErrorCode.Remote, message: 'the reply could not be encoded' });
        }
      };
      const reply = (data: JsonValue): void => settle({ type: 'response', id, data });
      const fail = (code: string, message: string): void => settle({ type: 'request-error', id, code, message });
      const failed = (error: unknown): void => {
        if (!controller.signal.aborted) this.host.error(error, this);
        const { code, message } = failureOf(error);
        fail(code, message);
      };
      const returned = (value: RequestResult): void => reply(value === undefined ? null : value);
      const ctx: RequestContext<P> = { ...this.context(channel), id, signal: controller.signal, reply, fail };
      try {
        const result = onRequest.call(handler, ctx, frame.data);
        if (result instanceof Promise) result.then(returned, failed);
        else returned(result);
      } catch (error) {
        failed(error);
      }
    }, () => {
      this.inflight?.delete(id);
      this.sendFrame({ type: 'request-error', id, code: ErrorCode.Forbidden, message: `not allowed to send requests to ${channel}` });
    });
  }

  /** Runs `allowed` or `refused` after authorize; returns a promise only when authorize is asynchronous. */
  private afterAuthorize(channel: string, action: ChannelAction, allowed: () => void, refused: () => void): Promise<void> | undefined {
    const verdict = this.host.authorize(this.principal, channel, action);
    const decide = (ok: boolean): void => {
      if (this.state !== 'open') return;
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
    this.enqueue(envelope);
    return true;
  }

  private sendError(code: string, message: string, channel?: string): void {
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message;
    // A codec error may name a channel that is itself invalid (empty, too long): then it is left out.
    const valid = channel !== undefined && channelIdProblem(channel) === undefined;
    this.sendFrame(valid ? { type: 'error', code, message: text, channel } : { type: 'error', code, message: text });
  }

  /** Whether frames may still be queued (not closing or closed). */
  private writable(): boolean {
    return this.state === 'open' || this.state === 'awaiting-hello';
  }

  private enqueue(envelope: string | OutgoingPublication): void {
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
    this.guard(() => this.transport.send(message, binary));
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
