/**
 * Who is subscribed to which channel on this node, and delivery of engine
 * publications to them. A publication is encoded once, lazily, for all its
 * recipients (text envelope, its UTF-8 bytes, binary frame, SSE data line).
 *
 * The first local subscriber of a channel subscribes the engine; every
 * subscriber of the channel waits for that subscription to take effect before
 * its history is read (ordering rule 1 of the engine): {@link Hub.add} returns
 * the wait, `undefined` when there is none (the memory engine).
 */
import { encodeBinary, encodeText, ErrorCode, FrameType, RxmuxError, streamPublication, transferSource, type StreamPublication, type TransferSource } from '@rxmux/core/protocol';
import type { Awaitable, Engine, EnginePublication } from '../engines/engine.js';
import { reported } from './awaitable.js';
import { SharedMessage } from './transport.js';

/**
 * One publication on its way to local subscribers, encoded on first use and
 * then shared. When the engine has the data as JSON text already
 * (`publication.json`: a history kept encoded), every encoding splices that
 * text in as it is: nothing is parsed or stringified again.
 */
export class OutgoingPublication {
  private textCache: string | undefined;
  private sharedCache: SharedMessage | undefined;
  private binaryCache: Uint8Array | undefined;
  private sseCache: string | undefined;
  private sources: Map<number, TransferSource> | undefined;
  private failure: Error | undefined;

  constructor(readonly publication: EnginePublication) {}

  get channel(): string {
    return this.publication.channel;
  }

  /**
   * The text envelope (JSON data only), with the publication's `seq` so a
   * client can resume and drop duplicates. Data that cannot be encoded (too deep, cyclic) throws here, in
   * the hub's per-subscriber guard, and the failure is remembered so it costs
   * one attempt, not one per recipient.
   */
  get text(): string {
    if (this.textCache !== undefined) return this.textCache;
    if (this.failure !== undefined) throw this.failure;
    const { channel, json, seq, data } = this.publication;
    // The same text encodeText writes for [1, channel, data, seq]; the data was checked when it was published.
    if (json !== undefined) return (this.textCache = `[${FrameType.publication},${JSON.stringify(channel)},${json},${seq}]`);
    try {
      return (this.textCache = encodeText({ type: 'publication', channel, data, seq }));
    } catch (error) {
      this.failure = error instanceof Error ? error : new RxmuxError(ErrorCode.InvalidField, 'the publication could not be encoded');
      throw this.failure;
    }
  }

  /**
   * The frame's size as a client's decoder measures it against its
   * `maxFrameBytes`: bytes for a binary frame, UTF-16 code units for text.
   */
  get size(): number {
    return this.binary?.byteLength ?? this.text.length;
  }

  /**
   * {@link text} as one message for every socket: a lone publication is
   * written to each recipient from the same bytes (and the same WebSocket
   * frame, with the `ws` adapter).
   */
  get shared(): SharedMessage {
    return (this.sharedCache ??= new SharedMessage(Buffer.from(this.text, 'utf8'), false));
  }

  /** The binary frame of a bytes publication; `undefined` for JSON data (see {@link text}). */
  get binary(): Uint8Array | undefined {
    const data = this.publication.json === undefined ? this.publication.data : undefined;
    if (!(data instanceof Uint8Array)) return undefined;
    return (this.binaryCache ??= encodeBinary({ type: 'publication', channel: this.channel, data, seq: this.publication.seq }));
  }

  /**
   * The publication as a chunked transfer cut into pieces of `piece` bytes
   * (protocol v2): its data, or its text envelope's UTF-8 bytes. Each piece
   * is encoded once and shared by every recipient that cuts it alike (the
   * transfer names its channel, not the socket).
   */
  source(piece: number): TransferSource {
    let source = this.sources?.get(piece);
    if (source !== undefined) return source;
    const { channel, data, json, seq } = this.publication;
    const bytes = json === undefined && data instanceof Uint8Array ? data : undefined;
    const plain = transferSource({ kind: 'publication', channel, seq, ...(bytes === undefined ? { text: true as const } : {}) }, bytes ?? this.shared.data);
    const pieces = new Map<number, Uint8Array>();
    source = {
      head: plain.head,
      size: plain.size,
      piece: (offset, length) => {
        let wire = pieces.get(offset);
        if (wire === undefined) pieces.set(offset, (wire = plain.piece(offset, length)));
        return wire;
      },
    };
    (this.sources ??= new Map()).set(piece, source);
    return source;
  }

  /** The JSON carried in an SSE `data:` line: `{"channel","seq","data"|"bytes"}`. */
  get sseData(): string {
    if (this.sseCache !== undefined) return this.sseCache;
    const { channel, json, seq } = this.publication;
    // The same text as JSON.stringify(streamEvent(…)), with the data spliced in.
    if (json !== undefined) return (this.sseCache = `{"channel":${JSON.stringify(channel)},"seq":${seq},"data":${json}}`);
    return (this.sseCache = JSON.stringify(streamEvent(this.publication)));
  }

  /** The publication as a long-poll event: `{"type":"publication","channel","seq","data"|"bytes"}`. */
  get pollEvent(): string {
    return `{"type":"publication",${this.sseData.slice(1)}`;
  }
}

/** Converts a publication to its SSE / long-poll JSON shape (bytes base64-encoded, with Node's fast encoder). */
export function streamEvent(p: EnginePublication): StreamPublication {
  return streamPublication(p.channel, p.seq, p.data, (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'));
}

/** Anything that receives publications: a WebSocket session, an SSE stream, a waiting poll. */
export interface Subscriber {
  deliver(publication: OutgoingPublication): void;
  /**
   * The engine may have missed publications of `channel` (ordering rule 3):
   * re-read it from where this subscriber stands (replay, or a gap notice).
   */
  resync(channel: string): void;
}

/** The local subscribers of one channel, and the engine subscription they wait for. */
interface Local {
  readonly subscribers: Set<Subscriber>;
  /** The engine's subscribe while it has not taken effect yet. */
  pending: Promise<void> | undefined;
}

/** Local subscriber sets per channel: a Map lookup per publication. */
export class Hub {
  private readonly channels = new Map<string, Local>();

  constructor(
    private readonly engine: Pick<Engine, 'subscribe' | 'unsubscribe'>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Number of channels with at least one local subscriber. */
  get size(): number {
    return this.channels.size;
  }

  /** Whether `channel` has local subscribers. */
  has(channel: string): boolean {
    return this.channels.has(channel);
  }

  /**
   * Adds a local subscriber: live publications reach it from the moment the
   * engine's subscription takes effect. Returns that moment when it is still
   * to come (read the history only after it), `undefined` when it is now. A
   * subscription the engine refused rejects (and is reported).
   */
  add(channel: string, subscriber: Subscriber): Awaitable<void> {
    let local = this.channels.get(channel);
    if (local === undefined) {
      local = { subscribers: new Set(), pending: undefined };
      this.channels.set(channel, local);
      const entry = local;
      let subscribed: Awaitable<void>;
      try {
        subscribed = this.engine.subscribe(channel);
      } catch (error) {
        subscribed = Promise.reject(error instanceof Error ? error : new RxmuxError(ErrorCode.Remote, 'the engine refused the subscription'));
      }
      if (subscribed instanceof Promise) {
        entry.pending = subscribed.then(
          () => {
            entry.pending = undefined;
          },
          (error: unknown) => {
            entry.pending = undefined;
            // The next first subscriber asks again: forget this attempt if nobody is left.
            if (entry.subscribers.size === 0 && this.channels.get(channel) === entry) this.channels.delete(channel);
            this.onError(error);
            throw error;
          },
        );
        entry.pending.catch(() => undefined); // every waiter handles it; this one only keeps it from being unhandled
      }
    }
    local.subscribers.add(subscriber);
    return local.pending;
  }

  remove(channel: string, subscriber: Subscriber): void {
    const local = this.channels.get(channel);
    if (local === undefined || !local.subscribers.delete(subscriber) || local.subscribers.size > 0) return;
    this.channels.delete(channel);
    this.guard(() => this.engine.unsubscribe(channel));
  }

  /** Hands an engine publication to every local subscriber of its channel; one failing subscriber affects no other. */
  deliver(publication: EnginePublication): void {
    const local = this.channels.get(publication.channel);
    if (local === undefined) return;
    const out = new OutgoingPublication(publication);
    for (const subscriber of local.subscribers) {
      try {
        subscriber.deliver(out);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  /** The engine may have missed publications of these channels: every local subscriber re-reads them. */
  resync(channels: readonly string[]): void {
    for (const channel of channels) {
      for (const subscriber of [...(this.channels.get(channel)?.subscribers ?? [])]) {
        try {
          subscriber.resync(channel);
        } catch (error) {
          this.onError(error);
        }
      }
    }
  }

  /** The channels with local subscribers (the ones an engine reset concerns when it names none). */
  get names(): readonly string[] {
    return [...this.channels.keys()];
  }

  /** Runs an engine call that may throw or reject, reporting instead of crashing. */
  guard(call: () => unknown): void {
    reported(call, this.onError);
  }
}
