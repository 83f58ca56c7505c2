/**
 * What comes in on one socket, before it is handled: the rate limit charged
 * before anything is parsed, the decode, and the order and pace frames are
 * handled in (PROTOCOL.md 10).
 *
 * - **Charged first.** One envelope and the message's size, then (text) the
 *   envelopes a cheap scan counts, which also refuses a frame nested too
 *   deep; what the bucket cannot pay for is never parsed. The decode's own
 *   count refines the charge.
 * - **In order.** An asynchronous step (authorize, the session store) parks
 *   the frames behind it until it settles.
 * - **A share per turn.** At most {@link FRAMES_PER_TURN} frames per turn of
 *   the event loop; the rest wait for the next one, so one connection's batch
 *   does not hold up every other client.
 * - **Backpressure.** While frames wait, the transport stops reading: a
 *   client that sends faster than it is served is slowed by TCP, not cut.
 *   What was already in flight is bounded by the caps below.
 */
import {
  CloseCode,
  decodeBinary,
  decodeText,
  ErrorCode,
  fullBucket,
  messageCost,
  scanText,
  takeTokens,
  type BucketRate,
  type BucketState,
  type Frame,
} from '@rxmux/core/protocol';
import type { Limits } from '../../limits.js';
import type { SocketState } from './socket-session.js';
import type { Outbox, Writer } from './writer.js';

/**
 * Frames one socket handles in one turn of the event loop; the rest wait in
 * its inbox for the next turn (`setImmediate`), so a batch of a thousand
 * messages to a fan-out handler does not hold up every other client.
 */
export const FRAMES_PER_TURN = 64;

/** Most error frames sent in answer to one incoming message (a bad batch yields one per envelope). */
const MAX_ERRORS_PER_MESSAGE = 16;

/**
 * Frames that wait in one inbox (behind an asynchronous step, or for the
 * next turn) at most, in multiples of `maxBatch`, or the rate's burst if
 * that is more: a client within its rate never meets it. The transport stops
 * reading while frames wait; the cap meets only what was already in flight.
 */
const INBOX_BATCHES = 2;

/**
 * Bytes of received messages that wait in one inbox at most, in multiples
 * of `maxFrameBytes`, or the bytes the rate's burst pays for if that is more:
 * a client within its rate never meets it (with a transport that cannot
 * pause reading either).
 */
const INBOX_FRAMES_BYTES = 4;

/** What the inbox needs from the server: the limits, the bucket's rate, the counters. */
export interface InboxHost {
  readonly limits: Limits;
  /** The per-connection token bucket's rate (from `limits`). */
  readonly rate: BucketRate;
  /** How much of a message's size one token pays for (`bytesPerToken` of the announced limits). */
  readonly perToken: number;
  readonly outbox: Pick<Outbox, 'countIn'>;
}

/** The socket the inbox feeds. */
export interface InboxOwner {
  readonly state: SocketState;
  readonly writer: Pick<Writer, 'error'>;
  /** Handles one frame; a promise when it took an asynchronous step (the frames behind it wait). */
  handle(frame: Frame): Promise<void> | undefined;
  /** `count` frames were decoded and will be handled, in order. */
  arrived(count: number): void;
  /** The message was over the rate: nothing of it runs; the socket closes (1008). */
  rateLimited(envelopes: number): void;
  close(code: number, reason: string): void;
  error(error: unknown): void;
  /** Stops (`false`) or resumes (`true`) reading from the transport. Never throws. */
  reading(on: boolean): void;
}

/** One socket's incoming side. Kept small: an idle socket's inbox is its bucket's two fields and three more. */
export class Inbox implements BucketState {
  /** The token bucket's state, in the inbox itself (one object less per socket). */
  tokens: number;
  refilledAt: number;
  /**
   * Frames waiting while an asynchronous step runs (authorize, the session
   * store) or for the next turn, so frames keep their order; with the size
   * of the messages they came in.
   */
  private waiting: Frame[] | undefined;
  private waitingBytes = 0;
  /** Whether the transport was asked to stop reading while frames wait. */
  private paused = false;

  constructor(
    private readonly owner: InboxOwner,
    private readonly host: InboxHost,
    now: number,
  ) {
    const { tokens, refilledAt } = fullBucket(host.rate, now);
    this.tokens = tokens;
    this.refilledAt = refilledAt;
  }

  /**
   * One WebSocket message: charged, decoded, handled in order (see the
   * module's comment). `now` is any clock in ms, the one the inbox was made with.
   */
  receive(data: string | Uint8Array, now: number): void {
    const { rate, perToken, limits, outbox } = this.host;
    const size = typeof data === 'string' ? data.length : data.byteLength;
    let charged = messageCost(1, size, perToken);
    if (!takeTokens(this, charged, now, rate)) return this.overRate(1, data);
    const shape = typeof data === 'string' && size <= limits.maxFrameBytes ? scanText(data) : undefined;
    // A batch over maxBatch is refused whole before parsing: it costs one envelope.
    if (shape !== undefined && shape.envelopes > 1 && shape.envelopes <= limits.maxBatch) {
      const more = messageCost(shape.envelopes, size, perToken) - charged;
      if (!takeTokens(this, more, now, rate)) return this.overRate(shape.envelopes, data);
      charged += more;
    }
    const { frames, errors } = typeof data === 'string' ? decodeText(data, limits, shape) : decodeBinary(data, limits);
    const count = frames.length + errors.length;
    outbox.countIn(data, count);
    const rest = messageCost(count, size, perToken) - charged;
    if (rest > 0 && !takeTokens(this, rest, now, rate)) return this.owner.rateLimited(count);
    for (const error of errors.slice(0, MAX_ERRORS_PER_MESSAGE)) this.owner.writer.error(error.code, error.message, error.channel);
    this.owner.arrived(frames.length);
    if (frames.length > 0) this.process(frames, size);
  }

  /** The socket is gone: what waits is dropped. */
  clear(): void {
    this.waiting = undefined;
    this.waitingBytes = 0;
  }

  /** Over the rate before parsing: counted as received, then refused. */
  private overRate(envelopes: number, unparsed: string | Uint8Array): void {
    this.host.outbox.countIn(unparsed, envelopes);
    this.owner.rateLimited(envelopes);
  }

  /**
   * Handles frames in order. An asynchronous step parks the rest until it
   * settles; after {@link FRAMES_PER_TURN} frames the rest wait for the next
   * turn. `bytes` is the size of the message they came in.
   */
  private process(frames: readonly Frame[], bytes: number): void {
    if (this.waiting !== undefined) {
      this.waiting.push(...frames);
      this.waitingBytes += bytes;
      const { maxBatch, maxFrameBytes, rateBurst } = this.host.limits;
      if (this.waiting.length > Math.max(INBOX_BATCHES * maxBatch, rateBurst) || this.waitingBytes > Math.max(INBOX_FRAMES_BYTES * maxFrameBytes, rateBurst * this.host.perToken)) {
        this.owner.writer.error(ErrorCode.RateLimited, 'too many frames waiting to be handled: closing');
        this.owner.close(CloseCode.PolicyViolation, 'too much waiting');
      }
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      if (i === FRAMES_PER_TURN) {
        this.park(frames.slice(i), bytes);
        setImmediate(() => this.resume(false));
        return;
      }
      const pending = this.owner.handle(frames[i] as Frame);
      if (pending !== undefined) {
        this.park(frames.slice(i + 1), bytes);
        // A step that fails must neither stay unhandled nor leave the frames behind it parked forever.
        void pending.then(
          () => this.resume(true),
          (error: unknown) => {
            this.owner.error(error);
            this.resume(true);
          },
        );
        return;
      }
    }
  }

  private park(frames: Frame[], bytes: number): void {
    this.waiting = frames;
    this.waitingBytes = frames.length === 0 ? 0 : bytes;
    if (!this.paused) {
      this.paused = true;
      this.owner.reading(false);
    }
  }

  /** Handles what waited: after an asynchronous step (`stepped`: only once the socket is open), or in the next turn. */
  private resume(stepped: boolean): void {
    const rest = this.waiting;
    const bytes = this.waitingBytes;
    this.clear();
    const { state } = this.owner;
    if (rest !== undefined && rest.length > 0 && (stepped ? state === 'open' : state !== 'closing' && state !== 'closed')) this.process(rest, bytes);
    this.readAgainIfIdle();
  }

  /** Nothing waits (nothing parked by what just ran): the transport reads again. */
  private readAgainIfIdle(): void {
    if (this.waiting !== undefined || !this.paused) return;
    this.paused = false;
    this.owner.reading(true);
  }
}
