/**
 * Chunked transfers (protocol v2, PROTOCOL.md 15), written once for both
 * ends: the sending half ({@link TransferSender}: the chunker, the window the
 * receiver grants, round-robin among channels) and the receiving half
 * ({@link TransferReceiver}: reassembly, its bounds, stale transfers, the
 * credit owed). Neither knows about sockets: the client's link and the
 * server's writer feed them frames and write what they return. No rxjs.
 *
 * ```
 *  sender                                              receiver
 *  start(channel, source) ─▶ next() ─▶ transfer ─────▶ take() ─ stored ─▶ credit owed
 *                            next() ─▶ chunk …  ──────▶ take() ─ whole ─▶ the message / publication
 *  credit(n) ◀──────────────────────────── [22, n] ◀── takeCredit() (with the next write)
 *  refused(channel) ◀────────────── [23, channel, code] ◀── too big, too many, malformed, stalled
 * ```
 * @packageDocumentation
 */
import { encodeChunk, encodeTransfer, MAX_TRANSFER_BYTES } from './binary.js';
import { decodeText } from './codec.js';
import { ErrorCode, ProtocolError } from './errors.js';
import type { AbortFrame, ChunkFrame, MessageFrame, PeerLimits, PublicationFrame, TransferFrame, TransferLimits } from './frames.js';

/** Defaults of the transfer limits a peer announces (PROTOCOL.md 15.1). */
export const DEFAULT_TRANSFER_LIMITS: TransferLimits = Object.freeze({
  chunkBytes: 64 * 1024,
  window: 64 * 1024,
  maxMessageBytes: 8 * 1024 * 1024,
  maxTransfers: 4,
});

/** Longest header of a `transfer` frame: type, flags, length, a 255-byte channel, size, id/seq. */
export const MAX_TRANSFER_HEADER_BYTES = 3 + 255 + 4 + 8;

/** The smallest piece a sender cuts (a peer announcing less is taken to mean this). */
const MIN_PIECE_BYTES = 1024;

/** What a transfer carries besides its bytes: everything of its `transfer` frame but the size and the first piece. */
export interface TransferHead {
  readonly kind: 'message' | 'publication';
  readonly channel: string;
  /** The payload is one UTF-8 text envelope (the id or seq, when there is one, is given here too). */
  readonly text?: true;
  readonly id?: number;
  readonly seq?: number;
}

/**
 * The bytes of one transfer, and how its pieces are encoded: `piece(offset,
 * length)` returns the frame carrying bytes `[offset, offset + length)`, a
 * `transfer` frame at offset 0 and a `chunk` after. A source may cache its
 * pieces (the server encodes a publication's pieces once for every recipient
 * that cuts them alike).
 */
export interface TransferSource {
  readonly head: TransferHead;
  readonly size: number;
  piece(offset: number, length: number): Uint8Array;
}

/** The source of a transfer of `payload` (raw data, or a text envelope's UTF-8 bytes). */
export function transferSource(head: TransferHead, payload: Uint8Array): TransferSource {
  return {
    head,
    size: payload.byteLength,
    piece: (offset, length) => {
      const data = payload.subarray(offset, offset + length);
      return offset === 0 ? encodeTransfer({ type: 'transfer', ...head, size: payload.byteLength, data }) : encodeChunk({ type: 'chunk', channel: head.channel, offset, data });
    },
  };
}

/**
 * The largest piece a sender cuts for a receiver that announced `peer`:
 * within both sides' `chunkBytes`, the receiver's window and its
 * `maxFrameBytes` (less the longest header). A payload larger than this
 * travels in chunks; a smaller one as one frame, as in v1.
 */
export function pieceBytes(peer: PeerLimits & TransferLimits, ownChunkBytes: number): number {
  const piece = Math.min(ownChunkBytes, peer.chunkBytes, peer.window, peer.maxFrameBytes - MAX_TRANSFER_HEADER_BYTES);
  return Math.max(MIN_PIECE_BYTES, piece);
}

/** The transfer keys of a limits object, when it has them (all four: the codec checks that). */
export function transferLimitsOf(limits: PeerLimits | undefined): (PeerLimits & TransferLimits) | undefined {
  return limits?.chunkBytes === undefined ? undefined : (limits as PeerLimits & TransferLimits);
}

/** One piece the window allows: the frame to write, and the token of its transfer when it was the last piece. */
export interface Piece<T> {
  readonly wire: Uint8Array;
  /** Payload bytes in it: what the window is charged. */
  readonly bytes: number;
  readonly channel: string;
  /** The transfer's token, on its last piece: the message is written whole. */
  readonly done?: T;
}

interface Outgoing<T> {
  readonly source: TransferSource;
  readonly token: T;
  offset: number;
}

/**
 * The sending half of one socket's transfers. At most one unfinished
 * transfer per channel (the caller keeps a channel's later frames behind
 * it), at most the receiver's `maxTransfers` on the wire at once (the rest
 * wait, in order), and never more bytes sent and not yet credited than the
 * receiver's `window`. Pieces of the transfers on the wire are taken in turn
 * (round-robin), so no transfer waits for another to finish.
 *
 * @example
 * const sender = new TransferSender<string>(pieceBytes(peer, 65536), peer.window, peer.maxTransfers);
 * sender.start(transferSource({ kind: 'message', channel: 'upload' }, bytes), 'token');
 * for (let p = sender.next(); p !== undefined; p = sender.next()) socket.send(p.wire); // as far as the window allows
 * sender.credit(65536); // a credit frame arrived
 */
export class TransferSender<T> {
  /** Bytes that may still be sent before a credit. */
  #credit: number;
  /** Transfers on the wire, by channel; Map order is the round-robin order. */
  readonly #active = new Map<string, Outgoing<T>>();
  /** Transfers waiting for a free slot (more than `maxTransfers`), oldest first. */
  #waiting: Outgoing<T>[] = [];

  constructor(
    /** The largest piece ({@link pieceBytes}). */
    readonly piece: number,
    /** The receiver's window. */
    readonly window: number,
    /** The receiver's `maxTransfers`. */
    readonly maxTransfers: number,
  ) {
    this.#credit = window;
  }

  /** Bytes that may be sent now before a credit comes. */
  get available(): number {
    return this.#credit;
  }

  /** Unfinished transfers (on the wire or waiting). */
  get size(): number {
    return this.#active.size + this.#waiting.length;
  }

  /** Whether `channel` has an unfinished transfer. */
  has(channel: string): boolean {
    return this.token(channel) !== undefined;
  }

  /** The token of `channel`'s unfinished transfer, if it has one. */
  token(channel: string): T | undefined {
    return (this.#active.get(channel) ?? this.#waiting.find((t) => t.source.head.channel === channel))?.token;
  }

  /** Whether {@link next} has a piece the window allows now. */
  get ready(): boolean {
    return this.#active.size > 0 && this.nextBytes <= this.#credit;
  }

  /** Payload bytes of the piece {@link next} would send (0: no transfer on the wire). */
  get nextBytes(): number {
    const first = this.#active.values().next();
    return first.done === true ? 0 : Math.min(this.piece, first.value.source.size - first.value.offset);
  }

  /** Bytes of every unfinished transfer not sent yet. */
  get unsent(): number {
    let bytes = 0;
    for (const t of this.#active.values()) bytes += t.source.size - t.offset;
    for (const t of this.#waiting) bytes += t.source.size - t.offset;
    return bytes;
  }

  /** Queues a transfer. Throws when its channel has one unfinished already (a caller bug: per-channel order). */
  start(source: TransferSource, token: T): void {
    const channel = source.head.channel;
    if (source.size > MAX_TRANSFER_BYTES) throw new ProtocolError(ErrorCode.FrameTooBig, `a transfer of ${source.size} bytes exceeds ${MAX_TRANSFER_BYTES}`);
    if (this.has(channel)) throw new ProtocolError(ErrorCode.InvalidTransfer, `"${channel}" has an unfinished transfer already`);
    const outgoing: Outgoing<T> = { source, token, offset: 0 };
    if (this.#active.size < this.maxTransfers) this.#active.set(channel, outgoing);
    else this.#waiting.push(outgoing);
  }

  /** The next piece the window allows (`undefined`: nothing to send, or the window is spent). */
  next(): Piece<T> | undefined {
    const first = this.#active.entries().next();
    if (first.done === true) return undefined;
    const [channel, t] = first.value;
    const length = Math.min(this.piece, t.source.size - t.offset);
    if (length > this.#credit) return undefined;
    const wire = t.source.piece(t.offset, length);
    t.offset += length;
    this.#credit -= length;
    this.#active.delete(channel);
    if (t.offset < t.source.size) {
      this.#active.set(channel, t); // its turn comes again after the others'
      return { wire, bytes: length, channel };
    }
    this.#promote();
    return { wire, bytes: length, channel, done: t.token };
  }

  /** The receiver took `bytes` more off the socket. Never above the window (a peer crediting more is ignored beyond it). */
  credit(bytes: number): void {
    this.#credit = Math.min(this.window, this.#credit + bytes);
  }

  /**
   * Gives up the unfinished transfer on `channel` (the sender abandons it, or
   * the receiver refused it). Returns its token and, when pieces of it were
   * sent, the `chunk` frame that tells the receiver; `undefined` when the
   * channel has no unfinished transfer (its last piece was sent already).
   */
  drop(channel: string): { readonly token: T; readonly abandon: Uint8Array | undefined } | undefined {
    const active = this.#active.get(channel);
    const i = active === undefined ? this.#waiting.findIndex((w) => w.source.head.channel === channel) : -1;
    const t = active ?? this.#waiting[i];
    if (t === undefined) return undefined;
    if (active === undefined) this.#waiting.splice(i, 1);
    else {
      this.#active.delete(channel);
      this.#promote();
    }
    return { token: t.token, abandon: t.offset === 0 ? undefined : encodeChunk({ type: 'chunk', channel, offset: t.offset, abandon: true, data: new Uint8Array(0) }) };
  }

  /** Every unfinished transfer's token, oldest first (the socket is gone). */
  tokens(): T[] {
    return [...this.#active.values(), ...this.#waiting].map((t) => t.token);
  }

  #promote(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) this.#active.set(next.source.head.channel, next);
  }
}

/** What a receiver accepts (what it announced) and how long an unfinished transfer may stall. */
export interface ReceiverLimits extends TransferLimits {
  /** Milliseconds an unfinished transfer may go without a piece before it is refused (`RXMUX_ERR_TRANSFER_TIMEOUT`). */
  readonly timeoutMs: number;
  /**
   * Largest text payload (a JSON envelope, parsed whole once complete), in
   * bytes; default `maxMessageBytes`. The server sets its `maxFrameBytes`:
   * chunking a text message interleaves it with other frames, it does not
   * make a larger parse acceptable (PROTOCOL.md 15.3).
   */
  readonly maxTextBytes?: number;
}

/**
 * What one `transfer` or `chunk` frame amounts to at the receiver, besides
 * the credit it owes (always):
 * - `undefined`: stored, nothing else to do;
 * - `whole`: the message or publication is complete: handle it as if it had
 *   arrived in one frame (receipts count it, its ack follows, …);
 * - `refused`: the last byte of a transfer the receiver had refused arrived:
 *   it is a refused message (count it, answer it with `error {code, id}`);
 * - `abort`: tell the sender to stop sending this transfer (and report `error`);
 * - `error`: a piece that belongs to nothing, reported and dropped;
 * - `violation`: more bytes than the window allows: the connection is at fault.
 */
export type Reception =
  | undefined
  | { readonly whole: MessageFrame | PublicationFrame }
  | { readonly refused: { readonly channel: string; readonly code: string; readonly message: string; readonly id?: number; readonly seq?: number } }
  | { readonly abort: AbortFrame; readonly error: ProtocolError }
  | { readonly error: ProtocolError }
  | { readonly violation: ProtocolError };

interface Incoming {
  readonly head: TransferHead;
  readonly size: number;
  received: number;
  lastAt: number;
  /** The pieces so far (views of the received frames); `undefined` once refused (the rest is only counted). */
  parts: Uint8Array[] | undefined;
  /** Why it was refused. */
  refusal?: { readonly code: string; readonly message: string };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const DECODE_ONE = { maxFrameBytes: Number.POSITIVE_INFINITY, maxBatch: 1 };

/**
 * The receiving half of one socket's transfers. Memory is bounded: at most
 * `maxTransfers` unfinished transfers, each at most `maxMessageBytes` (its
 * announced size is checked before a byte is kept, and only bytes received
 * are held); refused transfers keep no bytes, only a count until their end;
 * a transfer with no piece for `timeoutMs` is refused ({@link expire}).
 * Every byte taken off the socket is owed back as credit, stored or not.
 *
 * @example
 * const receiver = new TransferReceiver('message', limits);
 * const r = receiver.take(frame, Date.now());
 * if (r !== undefined && 'whole' in r) handle(r.whole);
 * const credit = receiver.takeCredit(); // write [22, credit] with the next write when > 0
 */
export class TransferReceiver {
  readonly #open = new Map<string, Incoming>();
  /** Bytes taken off the socket, and credit written back: the sender may be at most `window` ahead. */
  #received = 0;
  #granted = 0;
  #owed = 0;

  constructor(
    /** What this end receives: `'message'` (the server) or `'publication'` (the client). */
    readonly kind: 'message' | 'publication',
    readonly limits: ReceiverLimits,
  ) {}

  /** Unfinished transfers, refused ones included. */
  get size(): number {
    return this.#open.size;
  }

  /** Bytes held for unfinished transfers. */
  get heldBytes(): number {
    let bytes = 0;
    for (const t of this.#open.values()) if (t.parts !== undefined) bytes += t.received;
    return bytes;
  }

  /** Credit owed to the sender, counted as written: write `[22, n]` now when it is above 0. */
  takeCredit(): number {
    const owed = this.#owed;
    this.#owed = 0;
    this.#granted += owed;
    return owed;
  }

  /** Takes a `transfer` or `chunk` frame off the socket. */
  take(frame: TransferFrame | ChunkFrame, now: number): Reception {
    const bytes = frame.data.byteLength;
    this.#received += bytes;
    this.#owed += bytes;
    if (this.#received - this.#granted > this.limits.window) {
      return { violation: new ProtocolError(ErrorCode.FlowControl, `${this.#received - this.#granted} bytes of transfer data past the last credit exceed the window of ${this.limits.window}`, { channel: frame.channel }) };
    }
    return frame.type === 'transfer' ? this.#start(frame, now) : this.#chunk(frame, now);
  }

  /** Refuses every unfinished transfer that got no piece since `now - timeoutMs`; forgets refused ones as stale. */
  expire(now: number): Reception[] {
    const out: Reception[] = [];
    for (const [channel, t] of this.#open) {
      if (now - t.lastAt < this.limits.timeoutMs) continue;
      if (t.parts === undefined) {
        this.#open.delete(channel); // its sender never finished nor abandoned it
        continue;
      }
      t.lastAt = now;
      out.push(this.#refuse(channel, t, ErrorCode.TransferTimeout, `no piece of the transfer on "${channel}" for ${this.limits.timeoutMs} ms`));
    }
    return out;
  }

  /** Forgets every unfinished transfer (the socket is gone). */
  clear(): void {
    this.#open.clear();
  }

  #start(frame: TransferFrame, now: number): Reception {
    const { channel, size, kind } = frame;
    const head: TransferHead = { kind, channel, ...(frame.text === true ? { text: true as const } : {}), ...(frame.id === undefined ? {} : { id: frame.id }), ...(frame.seq === undefined ? {} : { seq: frame.seq }) };
    const incoming: Incoming = { head, size, received: 0, lastAt: now, parts: [] };
    const refuse = (code: string, message: string): Reception => {
      this.#open.set(channel, incoming);
      return this.#append(channel, incoming, this.#refuse(channel, incoming, code, message), frame.data);
    };
    if (this.#open.has(channel)) {
      this.#open.delete(channel); // its sequence is broken: the earlier transfer is no message either
      return refuse(ErrorCode.InvalidTransfer, `a second transfer on "${channel}" before the first ended`);
    }
    if (kind !== this.kind) return refuse(ErrorCode.InvalidTransfer, `a ${kind} transfer, where ${this.kind}s are expected`);
    const max = Math.min(this.limits.maxMessageBytes, MAX_TRANSFER_BYTES);
    if (size > max) return refuse(ErrorCode.FrameTooBig, `a transfer of ${size} bytes on "${channel}" exceeds maxMessageBytes ${max}`);
    const maxText = this.limits.maxTextBytes;
    if (frame.text === true && maxText !== undefined && size > maxText) {
      return refuse(ErrorCode.FrameTooBig, `a text transfer of ${size} bytes on "${channel}" exceeds ${maxText} (JSON is parsed whole: larger payloads travel as bytes)`);
    }
    let live = 0;
    for (const t of this.#open.values()) if (t.parts !== undefined) live++;
    if (live >= this.limits.maxTransfers) return refuse(ErrorCode.TooManyTransfers, `more than maxTransfers ${this.limits.maxTransfers} unfinished transfers`);
    this.#open.set(channel, incoming);
    return this.#append(channel, incoming, undefined, frame.data);
  }

  #chunk(frame: ChunkFrame, now: number): Reception {
    const { channel } = frame;
    const t = this.#open.get(channel);
    if (t === undefined) {
      if (frame.abandon === true) return undefined; // abandoned after it was refused and forgotten: nothing to do
      return { error: new ProtocolError(ErrorCode.InvalidTransfer, `a chunk on "${channel}", which has no unfinished transfer`, { channel }) };
    }
    t.lastAt = now;
    if (frame.abandon === true) {
      this.#open.delete(channel); // no message: nothing is counted, nothing answered
      return undefined;
    }
    if (t.parts !== undefined && frame.offset !== t.received) {
      return this.#append(channel, t, this.#refuse(channel, t, ErrorCode.InvalidTransfer, `a chunk at offset ${frame.offset} on "${channel}", where ${t.received} bytes were received`), frame.data);
    }
    return this.#append(channel, t, undefined, frame.data);
  }

  /** Adds a piece (or only counts it, once refused); the transfer ends when its last byte is there. `early` is what to answer unless it ended. */
  #append(channel: string, t: Incoming, early: Reception, data: Uint8Array): Reception {
    if (t.received + data.byteLength > t.size) {
      if (t.parts === undefined) {
        this.#open.delete(channel); // a refused transfer that overruns: its sequence is broken, no message
        return early;
      }
      return this.#refuse(channel, t, ErrorCode.InvalidTransfer, `more than the ${t.size} bytes announced on "${channel}"`);
    }
    t.received += data.byteLength;
    if (t.parts !== undefined && data.byteLength > 0) t.parts.push(data);
    if (t.received < t.size) return early;
    this.#open.delete(channel);
    if (t.parts === undefined) {
      const { code, message } = t.refusal ?? { code: ErrorCode.InvalidTransfer, message: 'refused' };
      const { id, seq } = t.head;
      return { refused: { channel, code, message, ...(id === undefined ? {} : { id }), ...(seq === undefined ? {} : { seq }) } };
    }
    return this.#whole(t.head, assemble(t.parts, t.size));
  }

  /** The transfer is refused: its bytes are let go, the rest of it is only counted, the sender is told to stop. */
  #refuse(channel: string, t: Incoming, code: string, message: string): Reception {
    t.parts = undefined;
    t.refusal = { code, message };
    this.#bound(channel);
    return { abort: { type: 'abort', channel, code, message }, error: new ProtocolError(code, message, { channel }) };
  }

  /** Refused transfers keep no bytes but are bounded in number too: beyond `maxTransfers` the oldest refused one is forgotten. */
  #bound(channel: string): void {
    let refused = 0;
    for (const t of this.#open.values()) if (t.parts === undefined) refused++;
    if (refused <= this.limits.maxTransfers) return;
    for (const [other, t] of this.#open) {
      if (other !== channel && t.parts === undefined) {
        this.#open.delete(other);
        return;
      }
    }
  }

  /** The whole payload as the frame it stands for; a text payload must be one envelope of its kind, channel and id/seq. */
  #whole(head: TransferHead, payload: Uint8Array): Reception {
    const { channel } = head;
    if (head.text !== true) {
      const whole: MessageFrame | PublicationFrame =
        head.kind === 'message'
          ? { type: 'message', channel, data: payload, ...(head.id === undefined ? {} : { id: head.id }) }
          : { type: 'publication', channel, data: payload, ...(head.seq === undefined ? {} : { seq: head.seq }) };
      return { whole };
    }
    let text: string;
    try {
      text = strictUtf8.decode(payload);
    } catch {
      return this.#malformed(head, 'is not UTF-8');
    }
    const { frames, errors } = decodeText(text, DECODE_ONE);
    const frame = frames[0];
    if (frame === undefined) return this.#malformed(head, errors[0]?.message ?? 'is not an envelope');
    const num = frame.type === 'message' ? frame.id : frame.type === 'publication' ? frame.seq : undefined;
    if (frame.type !== head.kind || frame.channel !== channel || num !== (head.kind === 'message' ? head.id : head.seq)) {
      return this.#malformed(head, `is not the ${head.kind} the transfer announced`);
    }
    return { whole: frame };
  }

  #malformed(head: TransferHead, why: string): Reception {
    const { channel, id, seq } = head;
    return { refused: { channel, code: ErrorCode.InvalidTransfer, message: `the text payload on "${channel}" ${why}`, ...(id === undefined ? {} : { id }), ...(seq === undefined ? {} : { seq }) } };
  }
}

/** The pieces of a payload, in one buffer (one copy; a single piece is its own buffer). */
function assemble(parts: readonly Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
